"""The whole system as processes: `crm serve --detach`, real HTTP, the worker, `crm stop`, and `crm demo`."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest

from serving.services.ingest.signature import sign
from tests.conftest import meta_fixture_files

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def crm(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crm.cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def stack_env(clean_db: str, tmp_path: Path, graph_sandbox: str) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "META_GRAPH_BASE_URL": graph_sandbox,
        "DATABASE_URL": clean_db,
        "API_PORT": str(free_port()),
        "API_WORKERS": "2",  # two processes: deduplication must hold across them, not just inside one
        "CRM_RUN_DIR": str(tmp_path / "run"),
        "META_APP_SECRET": SECRET,
        "META_VERIFY_TOKEN": "e2e-token",
        "LOG_LEVEL": "INFO",
    }
    yield env
    crm("stop", env=env)


def wait_processed(url: str, expected: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            pending = conn.execute(
                "SELECT count(*) FROM crm.raw_webhook_events WHERE processing_status IN ('queued', 'retrying')"
            ).fetchone()[0]
            total = conn.execute("SELECT count(*) FROM crm.raw_webhook_events").fetchone()[0]
        if pending == 0 and total == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"worker did not finish: {pending} pending of {total}")


def test_serve_detached_receives_signed_webhooks_and_the_worker_processes_them(stack_env: dict[str, str]) -> None:
    started = crm("serve", "--detach", env=stack_env)
    assert started.returncode == 0, started.stdout + started.stderr
    base = f"http://127.0.0.1:{stack_env['API_PORT']}"
    again = crm("serve", "--detach", env=stack_env)
    assert again.returncode == 0, "serve is idempotent"

    challenge = httpx.get(f"{base}/api/v1/webhooks/inbound",
                          params={"hub.mode": "subscribe", "hub.verify_token": "e2e-token", "hub.challenge": "42"})
    assert challenge.text == "42"
    wanted = {"wa_message_text.json", "ig_dm_text.json", "fb_messenger_text.json", "wa_batched_entries.json"}
    files = [p for p in meta_fixture_files() if p.name in wanted]
    assert files
    with httpx.Client(base_url=base) as client:
        for path in files:
            body = path.read_bytes()
            for _ in range(2):
                response = client.post("/api/v1/webhooks/inbound", content=body,
                                       headers={"X-Hub-Signature-256": sign(body, SECRET)})
                assert response.status_code == 200
        forged = client.post("/api/v1/webhooks/inbound", content=files[0].read_bytes(),
                             headers={"X-Hub-Signature-256": sign(b"other", SECRET)})
        assert forged.status_code == 401
    wait_processed(stack_env["DATABASE_URL"], expected=len(files))
    with psycopg.connect(stack_env["DATABASE_URL"]) as conn:
        # wa_batched_entries brings two customers; every file's customers get one conversation each.
        expected = len(files) + (1 if any(p.name == "wa_batched_entries.json" for p in files) else 0)
        assert conn.execute("SELECT count(*) FROM crm.conversations").fetchone()[0] == expected
        assert conn.execute("SELECT count(*) FROM crm.messages WHERE contact_id IS NULL").fetchone()[0] == 0

    log = (Path(stack_env["CRM_RUN_DIR"]) / "worker.log").read_text()
    assert "pipeline.event_processed" in log
    # The worker logs each new contact's identities; the WhatsApp one is a phone number and must be masked.
    assert "identity.contact_created" in log and "whatsapp:wa_id:972******321" in log
    assert "972987654321" not in log and "972987654321" not in (Path(stack_env["CRM_RUN_DIR"]) / "api.log") \
        .read_text(), "phone numbers are masked in logs"

    asyncio.run(concurrent_duplicates(base, stack_env["DATABASE_URL"]))

    stopped = crm("stop", env=stack_env)
    assert stopped.returncode == 0 and "stopped api" in stopped.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=1.0)
    assert crm("stop", env=stack_env).returncode == 0, "stop is idempotent"


async def concurrent_duplicates(base: str, database_url: str) -> None:
    """Many copies of one delivery, and of one message in different envelopes, at once across both API
    processes: one message, one raw row per distinct body, every request answered 200."""
    message = {"from": "50769990000", "id": "wamid.E2E.RACE", "timestamp": "1700000000", "type": "text",
               "text": {"body": "hola"}}

    def envelope(n: int) -> bytes:
        return orjson.dumps({"object": "whatsapp_business_account", "entry": [{"id": str(n), "changes": [
            {"field": "messages", "value": {"messaging_product": "whatsapp",
                                            "metadata": {"phone_number_id": "99"}, "messages": [message]}}]}]})

    bodies = [envelope(0)] * 40 + [envelope(n) for n in range(1, 21)]
    limits = httpx.Limits(max_connections=60)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        responses = await asyncio.gather(*(
            client.post("/api/v1/webhooks/inbound", content=body,
                        headers={"X-Hub-Signature-256": sign(body, SECRET)}) for body in bodies))
    assert [r.status_code for r in responses] == [200] * len(bodies)
    assert sum(r.json()["status"] == "stored" for r in responses[:40]) == 1
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM crm.messages WHERE external_id = 'wamid.E2E.RACE'")\
            .fetchone()[0] == 1
        raw = conn.execute("SELECT count(*) FROM crm.raw_webhook_events WHERE convert_from(body, 'UTF8') LIKE %s",
                           ("%wamid.E2E.RACE%",)).fetchone()[0]
    assert raw == 21


def test_demo_replays_a_stream_and_summarises(stack_env: dict[str, str]) -> None:
    result = crm("demo", "--customers", "8", "--seed", "3", env=stack_env, timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "duplicates absorbed" in output and "contacts" in output
    assert "autonomous-resolution rate" in output and "escalations to a person" in output
    assert "inbound → reply handed to Graph" in output
    assert "duplicates merged" in output and "check contact_ids_are_unique" in output
    with psycopg.connect(stack_env["DATABASE_URL"]) as conn:
        sent = conn.execute("SELECT count(*) FROM crm.outbound_messages WHERE status = 'sent'").fetchone()[0]
        waiting = conn.execute("SELECT count(*) FROM crm.outbound_messages WHERE status IN ('queued', 'sending')")\
            .fetchone()[0]
        inbound = conn.execute("SELECT count(*) FROM crm.messages WHERE direction = 'inbound'").fetchone()[0]
        golden = conn.execute("SELECT count(DISTINCT golden_id), count(*) FROM warehouse.contact_clusters").fetchone()
        contacts = conn.execute("SELECT count(*) FROM crm.contacts").fetchone()[0]
        channels = {row[0] for row in conn.execute("SELECT DISTINCT channel FROM crm.messages")}
        dead = conn.execute("SELECT count(*) FROM crm.raw_webhook_events WHERE processing_status <> "
                            "ALL('{processed,no_action}')").fetchone()[0]
    assert contacts >= 8 and dead == 0 and sent > 0 and waiting == 0
    assert golden[1] == contacts and 0 < golden[0] < contacts, "every contact clustered, the planted duplicates merged"
    assert channels <= {"whatsapp", "instagram", "messenger"} and len(channels) >= 2
    # Replaying the same seed again adds no message (within the hour it is even byte for byte the same stream).
    replay = crm("demo", "--customers", "8", "--seed", "3", env=stack_env, timeout=180)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    with psycopg.connect(stack_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM crm.messages WHERE direction = 'inbound'").fetchone()[0] == inbound
