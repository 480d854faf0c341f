"""Webhook ingest benchmark: signed WhatsApp text webhooks against the real API under uvicorn, durable commits.

Starts its own PostgreSQL cluster (default fsync and synchronous_commit: real durability), the API with
API_WORKERS uvicorn workers, and a bare FastAPI endpoint with the same workers as a yardstick; then sweeps
concurrency with wrk, every request a unique, signed body. Prints a table and writes bench/results/*.json.

    make bench                       # or: .venv/bin/python bench/ingest.py --duration 15 --concurrency 32 64 128
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.db.local_pg import ClusterProfile, LocalCluster  # noqa: E402
from crm.db.migrate import upgrade  # noqa: E402
from serving.services.ingest.signature import sign  # noqa: E402

BENCH = ClusterProfile(name="bench", default_port=25450, database="crm", fast_unsafe=False)
SECRET = "bench-app-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_wrk() -> str:
    if path := shutil.which("wrk"):
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get install wrk)...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        if path := shutil.which("wrk"):
            return path
    sys.exit("wrk is needed: apt-get install wrk")


def write_bodies(path: Path, count: int, tag: str) -> None:
    """Unique WhatsApp text webhooks, signed, one per line."""
    with path.open("w") as out:
        for n in range(count):
            phone = f"5076{n % 9_000_000 + 1_000_000}"
            body = orjson.dumps({
                "object": "whatsapp_business_account",
                "entry": [{"id": "100200300400500", "changes": [{"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "50760001234", "phone_number_id": "109876543210001"},
                    "contacts": [{"profile": {"name": f"Cliente {n}"}, "wa_id": phone}],
                    "messages": [{"from": phone, "id": f"wamid.BENCH.{tag}.{n}", "timestamp": "1764000000",
                                  "type": "text", "text": {"body": "hola, tienen disponible el iPhone 15? 🙏"}}],
                }}]}],
            })
            out.write(f"{sign(body, SECRET)}\t{body.decode()}\n")


def start_server(app: str, port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers",
         str(workers), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"{app} did not start; see {log}")


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def run_wrk(wrk: str, port: int, bodies: Path, concurrency: int, duration: int, threads: int) -> dict:
    result = subprocess.run(
        [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--latency", "--timeout", "10s",
         "-s", str(ROOT / "bench" / "signed_requests.lua"), f"http://127.0.0.1:{port}",
         "--", str(bodies), str(threads)],
        capture_output=True, text=True, check=True,
    )
    out = result.stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50"),
        "p90_ms": latency("90"),
        "p99_ms": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 128, 256])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("API_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load before each level")
    parser.add_argument("--bodies", type=int, default=80_000, help="unique bodies per level")
    args = parser.parse_args()

    wrk = ensure_wrk()
    cluster = LocalCluster(BENCH)
    url = cluster.up()
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE crm.raw_webhook_events, crm.messages, crm.procrastinate_jobs CASCADE")
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                                     "('fsync', 'synchronous_commit', 'wal_sync_method')").fetchall())
    print(f"PostgreSQL {settings} at {url}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    api_port, bare_port = free_port(), free_port()
    env = {"DATABASE_URL": url, "META_APP_SECRET": SECRET, "LOG_LEVEL": "WARNING", "APP_ENV": "production",
           "META_VERIFY_TOKEN": "bench"}
    rows = []
    try:
        for level, concurrency in enumerate(args.concurrency):
            bodies = work / f"bodies-{concurrency}.txt"
            write_bodies(bodies, args.bodies, tag=f"{datetime.now(UTC):%H%M%S}-{level}")
            bare = start_server("bench.bare_app:app", bare_port, args.workers, {}, work / "bare.log")
            run_wrk(wrk, bare_port, bodies, concurrency, args.warmup, args.threads)
            bare_result = run_wrk(wrk, bare_port, bodies, concurrency, args.duration, args.threads)
            stop_server(bare)
            api = start_server("serving.main:app", api_port, args.workers, env, work / "api.log")
            # Warm-up (pools filled, statements prepared), with bodies of its own, not measured.
            warm = work / "warm.txt"
            write_bodies(warm, 20_000, tag=f"warm-{datetime.now(UTC):%H%M%S}-{level}")
            run_wrk(wrk, api_port, warm, concurrency, args.warmup, args.threads)
            with psycopg.connect(url) as conn:
                before = conn.execute("SELECT count(*) FROM crm.raw_webhook_events").fetchone()[0]
            api_result = run_wrk(wrk, api_port, bodies, concurrency, args.duration, args.threads)
            stop_server(api)
            with psycopg.connect(url) as conn:
                stored = conn.execute("SELECT count(*) FROM crm.raw_webhook_events").fetchone()[0] - before
            row = {**api_result, "stored": stored, "bare_rps": bare_result["rps"],
                   "bare_p99_ms": bare_result["p99_ms"], "ratio": api_result["rps"] / bare_result["rps"]}
            rows.append(row)
            print(f"c={concurrency:>4}  api {row['rps']:>8,.0f} req/s  p50 {row['p50_ms']:6.1f} ms  "
                  f"p99 {row['p99_ms']:6.1f} ms  non-2xx {row['non_2xx']}  stored {stored:,}  |  bare "
                  f"{row['bare_rps']:>8,.0f} req/s  ratio {row['ratio']:.2f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    out = results_dir / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"postgres": settings, "workers": args.workers, "duration_s": args.duration,
                               "levels": rows}, indent=2))
    print("\n| concurrency | req/s | p50 ms | p99 ms | non-2xx | bare req/s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['concurrency']} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['non_2xx']} | "
              f"{r['bare_rps']:,.0f} | {r['ratio']:.2f} |")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
