"""Reply latency benchmark: an inbound WhatsApp message posted to the webhook, until its reply reaches the Graph
API (the local sandbox), with the local models, at a steady rate. Budget: p95 < 500 ms at 50 messages/s.

    .venv/bin/python bench/reply.py --rate 50 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
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

PROFILE = ClusterProfile(name="bench-reply", default_port=25460, database="crm", fast_unsafe=False)
SECRET = "bench-secret"
QUESTIONS = ["hola, tienen el iphone 15? cuanto cuesta", "busco una laptop para programar, presupuesto hasta $1200",
             "cuanto sale el envio a David?", "tienen audifonos jbl?", "hi, do you have the samsung tablet?",
             "precio del smart tv de 55 pulgadas?", "que reloj garmin tienen", "la cafetera oster tiene stock?"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox() -> tuple[str, list[dict]]:
    import uvicorn

    from serving.sandbox import create_sandbox

    port = free_port()
    app = create_sandbox()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", []


def body_for(n: int, tag: str) -> bytes:
    phone = f"5076{1000000 + n % 500}"  # 500 customers, several messages each
    return orjson.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"phone_number_id": "109876543210001"},
            "contacts": [{"profile": {"name": f"Cliente {n % 500}"}, "wa_id": phone}],
            "messages": [{"from": phone, "id": f"wamid.REPLY.{tag}.{n}", "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": QUESTIONS[n % len(QUESTIONS)]}}]}}]}]})


async def drive(api: str, rate: float, seconds: float, tag: str) -> dict[str, float]:
    sent_at: dict[str, float] = {}
    total = int(rate * seconds)
    async with httpx.AsyncClient(timeout=30) as client:
        started = time.perf_counter()
        tasks = []
        for n in range(total):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = body_for(n, tag)
            sent_at[f"wamid.REPLY.{tag}.{n}"] = time.time()
            tasks.append(asyncio.create_task(client.post(f"{api}/api/v1/webhooks/inbound", content=body,
                                                         headers={"X-Hub-Signature-256": sign(body, SECRET)})))
        responses = await asyncio.gather(*tasks)
    failures = sum(r.status_code != 200 for r in responses)
    if failures:
        print(f"{failures} webhooks were not accepted", flush=True)
    return sent_at


def wait_for_replies(sandbox: str, expected: int, timeout_s: float) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        requests = httpx.get(f"{sandbox}/_sandbox/messages").json()
        if len(requests) >= expected or time.monotonic() > deadline:
            return requests
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50.0, help="inbound messages per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds of the same traffic first, not measured (cold caches, first contacts)")
    args = parser.parse_args()

    cluster = LocalCluster(PROFILE)
    url = cluster.up()
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE crm.raw_webhook_events, crm.messages, crm.contacts, crm.procrastinate_jobs, "
                     "crm.outbound_messages CASCADE")
    sandbox, _ = start_sandbox()
    env = {**os.environ, "DATABASE_URL": url, "META_APP_SECRET": SECRET, "META_GRAPH_BASE_URL": sandbox,
           "LOG_LEVEL": "WARNING", "APP_ENV": "production", "META_VERIFY_TOKEN": "bench"}
    subprocess.run([sys.executable, "-c", "import asyncio, os; from serving.demo.runner import load_demo_catalog; "
                    "print(asyncio.run(load_demo_catalog()))"], env=env, cwd=ROOT, check=True)
    port = free_port()
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "serving.main:app", "--port", str(port), "--workers",
                            "2", "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT,
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    worker = subprocess.Popen([sys.executable, "-m", "crm.cli.main", "worker"], env=env, cwd=ROOT,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        tag = datetime.now(UTC).strftime("%H%M%S")
        if args.warmup > 0:
            asyncio.run(drive(base, args.rate, args.warmup, f"warm{tag}"))
            wait_for_replies(sandbox, int(args.rate * args.warmup), timeout_s=60)
            httpx.delete(f"{sandbox}/_sandbox/messages")
        sent_at = asyncio.run(drive(base, args.rate, args.seconds, tag))
        requests = wait_for_replies(sandbox, len(sent_at), timeout_s=30)  # let the last replies through
    finally:
        for process in (api, worker):
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
    with psycopg.connect(url) as conn:
        keys = dict(conn.execute("SELECT 'reply:' || m.id, m.external_id FROM crm.messages m "
                                 "WHERE m.direction = 'inbound'").fetchall())
    latencies = []
    for request in requests:
        key = request["body"].get("biz_opaque_callback_data")
        wamid = keys.get(key)
        if wamid in sent_at:
            received = datetime.fromisoformat(request["received_at"]).timestamp()
            latencies.append((received - sent_at[wamid]) * 1000)
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))]

    result = {"rate_per_s": args.rate, "seconds": args.seconds, "warmup_s": args.warmup, "inbound": len(sent_at),
              "replies": len(latencies),
              "p50_ms": round(pct(0.5), 1), "p95_ms": round(pct(0.95), 1), "p99_ms": round(pct(0.99), 1),
              "mean_ms": round(statistics.fmean(latencies), 1)} if latencies else {"replies": 0}
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"reply-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
