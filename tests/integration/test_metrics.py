"""`GET /metrics`: behind an API key, and the figures an operator would graph are the right ones."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from serving.services.ingest.writer import DatabaseUnavailable
from serving.services.metrics import parse_samples, render_metrics
from tests.helpers import WEBHOOK, add_api_key, api_client, make_settings, post_signed, signed_headers

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def instagram_message(n: int) -> bytes:
    return orjson.dumps({"object": "instagram", "entry": [{"id": "17841", "time": 1700000000000 + n, "messaging": [
        {"sender": {"id": f"user{n}"}, "recipient": {"id": "17841"}, "timestamp": 1700000000000 + n,
         "message": {"mid": f"aWdf-metrics-{n}", "text": f"hola {n}"}}]}]})


async def scrape(client, headers: dict[str, str]) -> Samples:  # noqa: ANN001 - httpx.AsyncClient
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse_samples(response.text)


async def test_metrics_need_an_api_key_and_read_scope_is_enough(clean_db: str, db: psycopg.AsyncConnection) -> None:
    read = await add_api_key(db, "read")
    revoked = await add_api_key(db, "read", revoked=True)
    async with api_client(make_settings(clean_db)) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer not-a-key"})).status_code == 401
        assert (await client.get("/metrics", headers=revoked)).status_code == 401
        samples = await scrape(client, read)
    assert value(samples, "crm_database_up") == 1.0
    assert ("crm_webhook_deliveries_total", (("outcome", "stored"),)) in samples


async def test_webhook_deliveries_are_counted_by_outcome(clean_db: str, db: psycopg.AsyncConnection) -> None:
    key = await add_api_key(db, "read")
    async with api_client(make_settings(clean_db, webhook_max_body_bytes=4096)) as client:
        before = await scrape(client, key)
        body = instagram_message(1)
        assert (await post_signed(client, body)).json()["status"] == "stored"
        assert (await post_signed(client, body)).json()["status"] == "duplicate"
        assert (await post_signed(client, instagram_message(2), secret="wrong-secret")).status_code == 401
        assert (await post_signed(client, b"{not json")).status_code == 400
        assert (await post_signed(client, b'["not", "a", "webhook"]')).status_code == 400
        big = b'{"object": "page", "entry": [], "pad": "' + b"x" * 5000 + b'"}'
        assert (await client.post(WEBHOOK, content=big, headers=signed_headers(big))).status_code == 413

        async def database_down(delivery: object) -> None:
            raise DatabaseUnavailable("drill")

        client.app.state.ingest_writer.write = database_down
        assert (await post_signed(client, instagram_message(3))).status_code == 503
        after = await scrape(client, key)
        # The stored delivery is in the database; a scrape reports its job in the inbound queue too.
        assert value(after, "crm_queue_jobs", queue="inbound", state="ready") == 1

    expected = {"stored": 1, "duplicate": 1, "invalid_signature": 1, "bad_request": 2, "too_large": 1,
                "unavailable": 1}
    counted = {outcome: value(after, "crm_webhook_deliveries_total", outcome=outcome)
               - value(before, "crm_webhook_deliveries_total", outcome=outcome) for outcome in expected}
    assert counted == expected


async def seed(db: psycopg.AsyncConnection) -> None:
    """Rows as the worker, the outbox, the LLM chain and the automation dispatcher leave them: some in the last
    hour, some older (inserted first, as they would have been) that the windowed figures must leave out."""
    old = "now() - interval '2 hours'"
    await db.execute(
        "INSERT INTO crm.raw_webhook_events (body_sha256, signature_state, processing_status) VALUES "
        "(%s, 'valid', 'dead_letter'), (%s, 'valid', 'dead_letter'), (%s, 'valid', 'queued'), "
        "(%s, 'valid', 'processed')", [os.urandom(32) for _ in range(4)])
    messages = {}
    for name, age_s in (("m1", 10), ("m2", 10), ("m3", 100), ("m_old", 7300)):
        cursor = await db.execute(
            "INSERT INTO crm.messages (channel, dedup_key, direction, message_type, counterpart_external_id, "
            "created_at) VALUES ('whatsapp', %s, 'inbound', 'text', '5076000', now() - make_interval(secs => %s)) "
            "RETURNING id", (name, age_s))
        messages[name] = (await cursor.fetchone())[0]
    outbound = "INSERT INTO crm.outbound_messages (idempotency_key, channel, account_external_id, " \
               "recipient_external_id, payload, status, in_reply_to_message_id, created_at, sending_started_at) " \
               "VALUES (%s, 'whatsapp', 'PN1', '5076000', '{{}}', %s, %s, {created}, {started})"
    started_after = "(SELECT created_at FROM crm.messages WHERE id = %s) + make_interval(secs => %s)"
    await db.execute(outbound.format(created=old, started=old), ("old", "failed", messages["m_old"]))
    for key, status, reply_to, latency in (("r1", "sent", "m1", 0.2), ("r2", "sent", "m2", 3.0),
                                           ("r3", "failed", "m3", 45.0)):
        await db.execute(outbound.format(created="now()", started=started_after),
                         (key, status, messages[reply_to], messages[reply_to], latency))
    await db.execute(outbound.format(created="now()", started="NULL"), ("r4", "queued", None))

    llm = "INSERT INTO crm.llm_calls (task, provider, model, latency_ms, outcome, estimated_cost_usd, created_at) " \
          "VALUES ('reply', %s, 'm', 100, %s, %s, {at})"
    await db.execute(llm.format(at=old), ("openai", "ok", 5))
    for provider, outcome, cost in (("openai", "ok", 0.01), ("openai", "ok", 0.01), ("openai", "timeout", None),
                                    ("local", "ok", 0), ("local", "ok", 0), ("local", "ok", 0)):
        await db.execute(llm.format(at="now()"), (provider, outcome, cost))

    events = "INSERT INTO crm.automation_events (event_type, subject_type, subject_id, idempotency_key, status, " \
             "created_at) VALUES ('follow_up', 'contact', '1', %s, %s, {at})"
    await db.execute(events.format(at=old), ("e-old", "pending"))
    for key, status in (("e1", "pending"), ("e2", "pending"), ("e3", "delivered")):
        await db.execute(events.format(at="now()"), (key, status))

    jobs = "INSERT INTO crm.procrastinate_jobs (queue_name, task_name, status, scheduled_at) VALUES " \
           "('outbound', 'send', %s, %s) RETURNING id"
    oldest = (await (await db.execute(jobs, ("todo", None))).fetchone())[0]
    await db.execute("UPDATE crm.procrastinate_events SET at = now() - interval '120 seconds' WHERE job_id = %s",
                     (oldest,))
    await db.execute(jobs, ("todo", None))
    await db.execute(jobs, ("todo", datetime.now(UTC) + timedelta(minutes=1)))
    await db.execute(jobs, ("doing", None))
    await db.execute(jobs, ("succeeded", None))
    await db.execute("INSERT INTO crm.procrastinate_workers (last_heartbeat) VALUES (now()), "
                     "(now() - interval '5 minutes')")


async def test_database_figures_are_right(clean_db: str, db: psycopg.AsyncConnection) -> None:
    await seed(db)
    has_media = (await (await db.execute("SELECT to_regclass('crm.media_attachments')")).fetchone())[0] is not None
    if has_media:
        await db.execute("INSERT INTO crm.media_attachments (message_id, position, channel, kind, status) "
                         "SELECT id, 0, 'whatsapp', 'image', 'pending' FROM crm.messages WHERE dedup_key = 'm1' "
                         "UNION ALL SELECT id, 0, 'whatsapp', 'image', 'stored' FROM crm.messages "
                         "WHERE dedup_key = 'm2'")
    key = await add_api_key(db, "read")
    async with api_client(make_settings(clean_db)) as client:
        samples = await scrape(client, key)

    assert value(samples, "crm_database_up") == 1
    assert value(samples, "crm_dead_letter_events") == 2
    assert value(samples, "crm_raw_webhook_events_unprocessed", status="queued") == 1
    assert value(samples, "crm_workers_alive") == 1

    assert {state: value(samples, "crm_queue_jobs", queue="outbound", state=state)
            for state in ("ready", "scheduled", "doing")} == {"ready": 2, "scheduled": 1, "doing": 1}
    assert 119 <= value(samples, "crm_queue_oldest_job_age_seconds", queue="outbound") < 180
    assert value(samples, "crm_queue_jobs", queue="inbound", state="ready") == 0
    assert ("crm_queue_oldest_job_age_seconds", (("queue", "inbound"),)) in samples, "idle queues report 0"

    assert {status: value(samples, "crm_outbound_messages_last_hour", status=status)
            for status in ("sent", "failed", "queued")} == {"sent": 2, "failed": 1, "queued": 1}

    assert value(samples, "crm_llm_calls_last_hour", provider="openai", outcome="ok") == 2
    assert value(samples, "crm_llm_calls_last_hour", provider="openai", outcome="timeout") == 1
    assert value(samples, "crm_llm_calls_last_hour", provider="local", outcome="ok") == 3
    assert value(samples, "crm_llm_cost_usd_last_hour", provider="openai") == pytest.approx(0.02)
    assert value(samples, "crm_llm_cost_usd_last_hour", provider="local") == 0

    assert value(samples, "crm_automation_events_last_hour", status="pending") == 2
    assert value(samples, "crm_automation_events_last_hour", status="delivered") == 1
    assert value(samples, "crm_automation_events_pending") == 3, "the backlog counts pending events of any age"

    buckets = {le: value(samples, "crm_reply_latency_seconds_bucket", le=le)
               for le in ("0.1", "0.25", "0.5", "2.0", "5.0", "30.0", "+Inf")}
    assert buckets == {"0.1": 0, "0.25": 1, "0.5": 1, "2.0": 1, "5.0": 2, "30.0": 2, "+Inf": 3}
    assert value(samples, "crm_reply_latency_seconds_gcount") == 3
    assert value(samples, "crm_reply_latency_seconds_gsum") == pytest.approx(48.2, abs=0.01)

    if has_media:
        assert value(samples, "crm_media_attachments_last_hour", status="pending") == 1
        assert value(samples, "crm_media_attachments_last_hour", status="stored") == 1
        assert value(samples, "crm_media_attachments_pending") == 1


async def test_a_scrape_with_the_database_down_still_answers(clean_db: str) -> None:
    from crm.db.engine import create_engine

    engine = create_engine("postgresql://crm@127.0.0.1:1/nowhere", connect_timeout_s=1)
    try:
        samples = parse_samples((await render_metrics(engine)).decode())
    finally:
        await engine.dispose()
    assert value(samples, "crm_database_up") == 0
    assert ("crm_webhook_deliveries_total", (("outcome", "unavailable"),)) in samples
    assert not any(name.startswith("crm_queue") for name, _ in samples)
