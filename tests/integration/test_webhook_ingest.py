"""The webhook gateway against the real PostgreSQL: stored once, in one transaction, or refused clearly."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import psycopg
import pytest

from tests.conftest import meta_fixture_files, truncate_all
from tests.unit.test_conformance_expectations import EXPECTED
from tests.helpers import (
    APP_SECRET,
    VERIFY_TOKEN,
    WEBHOOK,
    api_client,
    count,
    fetch_one,
    make_settings,
    post_signed,
    signed_headers,
)

pytestmark = pytest.mark.integration

NORMALIZED = ("messages", "message_status_events", "social_comments", "page_feed_events", "lead_ad_submissions")


async def snapshot(db: psycopg.AsyncConnection) -> dict[str, int]:
    tables = ("raw_webhook_events", *NORMALIZED, "procrastinate_jobs")
    return {table: await count(db, table) for table in tables}


@pytest.mark.parametrize("path", meta_fixture_files(), ids=lambda p: p.name)
async def test_every_fixture_is_stored_once_even_when_delivered_twice(
    path: Path, database_url: str, db: psycopg.AsyncConnection
) -> None:
    truncate_all(database_url)  # fixtures reuse ids across files: each file starts from an empty CRM
    body = path.read_bytes()
    async with api_client(make_settings(database_url)) as client:
        first = await post_signed(client, body)
        after_first = await snapshot(db)
        second = await post_signed(client, body)
        after_second = await snapshot(db)

    assert first.status_code == 200, first.text
    stored = first.json()
    assert stored["status"] == "stored" and stored["event_id"]
    assert after_first["raw_webhook_events"] == 1
    raw = await fetch_one(db, "SELECT body, signature_state, item_counts, headers FROM crm.raw_webhook_events")
    assert bytes(raw["body"]) == body, "the raw body is kept byte for byte"
    assert raw["signature_state"] == "valid" and raw["headers"]["x-hub-signature-256"].startswith("sha256=")
    expected_rows = sum(1 for row in EXPECTED[path.name] if row[0] != "unparsed")
    assert sum(after_first[t] for t in NORMALIZED) == expected_rows, "every expected event is stored"
    assert sum(stored["stored"].values()) == expected_rows

    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "event_id": stored["event_id"], "queued": False,
                             "stored": {}, "ids": {}}
    assert after_second == after_first, "a redelivery stores and queues nothing"


async def test_normalized_rows_hold_what_the_customer_sent(clean_db: str, db: psycopg.AsyncConnection) -> None:
    async with api_client(make_settings(clean_db)) as client:
        response = await post_signed(client, (Path(__file__).parents[1] / "fixtures/meta/wa_batched_entries.json")
                                     .read_bytes())
    assert response.status_code == 200 and response.json()["queued"] is True
    row = await fetch_one(db, "SELECT * FROM crm.messages WHERE external_id = 'wamid.BATCH.2'")
    assert row["channel"] == "whatsapp" and row["direction"] == "inbound"
    assert row["text"] == "hola, cuanto cuesta el envio a David?"
    assert row["account_external_id"] == "106540352242922"
    assert row["sender_profile"]["name"] == "Ana Pérez"
    assert row["raw_event_id"] == response.json()["event_id"]
    job = await fetch_one(db, "SELECT task_name, queue_name, args, status FROM crm.procrastinate_jobs")
    assert job["args"] == {"raw_event_id": response.json()["event_id"]} and job["status"] == "todo"
    unparsed = await fetch_one(db, "SELECT unparsed FROM crm.raw_webhook_events")
    assert unparsed["unparsed"][0]["field"] == "message_template_status_update"


async def test_same_message_in_a_rebatched_body_is_not_stored_twice(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    single = json.loads((Path(__file__).parents[1] / "fixtures/meta/wa_batched_entries.json").read_text())
    single["entry"] = single["entry"][:1]
    single["entry"][0]["changes"] = single["entry"][0]["changes"][:1]
    rebatched = json.loads(json.dumps(single))
    rebatched["entry"][0]["changes"][0]["value"]["messages"].append(
        {"from": "16505551234", "id": "wamid.BATCH.3", "timestamp": "1749416500", "type": "text",
         "text": {"body": "also in red?"}})
    async with api_client(make_settings(clean_db)) as client:
        await post_signed(client, single)
        response = await post_signed(client, rebatched)
    assert response.json()["status"] == "stored"
    assert response.json()["stored"] == {"messages": 1}
    assert await count(db, "messages") == 3


async def test_concurrent_duplicate_deliveries_store_once(clean_db: str, db: psycopg.AsyncConnection) -> None:
    body = orjson.dumps({"object": "instagram", "entry": [{"id": "17841", "time": 1700000000000, "messaging": [
        {"sender": {"id": "555"}, "recipient": {"id": "17841"}, "timestamp": 1700000000000,
         "message": {"mid": "aWdf-concurrent-1", "text": "hola!! precio?"}}]}]})
    async with api_client(make_settings(clean_db)) as client:
        responses = await asyncio.gather(*(post_signed(client, body) for _ in range(25)))
    assert all(r.status_code == 200 for r in responses)
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses.count("stored") == 1 and statuses.count("duplicate") == 24
    assert await count(db, "raw_webhook_events") == 1
    assert await count(db, "messages") == 1
    assert await count(db, "procrastinate_jobs") == 1


async def test_concurrent_different_bodies_with_the_same_message_store_it_once(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    def body(extra_status: int) -> dict:
        return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                          "messages": [{"from": "50760000001", "id": "wamid.SAME", "timestamp": "1700000000",
                                        "type": "text", "text": {"body": "hola"}}],
                          "statuses": [{"id": f"wamid.OTHER{extra_status}", "status": "sent",
                                        "timestamp": "1700000000", "recipient_id": "50760000001"}]}}]}]}

    async with api_client(make_settings(clean_db)) as client:
        responses = await asyncio.gather(*(post_signed(client, body(i)) for i in range(12)))
    assert all(r.json()["status"] == "stored" for r in responses)
    assert await count(db, "raw_webhook_events") == 12
    assert await count(db, "messages") == 1
    assert await count(db, "message_status_events") == 12


async def test_statuses_only_move_forward_and_failed_keeps_its_error(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    await db.execute(
        "INSERT INTO crm.messages (channel, dedup_key, external_id, direction, message_type, "
        "counterpart_external_id, status, status_rank) "
        "VALUES ('whatsapp', 'wamid.OUT.1', 'wamid.OUT.1', 'outbound', 'text', '50761234567', 'accepted', 1)"
    )

    def status(state: str, ts: int, **extra: object) -> dict:
        return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                          "statuses": [{"id": "wamid.OUT.1", "status": state, "timestamp": str(ts),
                                        "recipient_id": "50761234567", **extra}]}}]}]}

    async with api_client(make_settings(clean_db)) as client:
        await post_signed(client, status("read", 1700000030))
        await post_signed(client, status("sent", 1700000010))  # late, must not overwrite "read"
        await post_signed(client, status("delivered", 1700000020))
        current = await fetch_one(db, "SELECT status FROM crm.messages WHERE external_id = 'wamid.OUT.1'")
        assert current["status"] == "read"
        await post_signed(client, status("failed", 1700000040,
                                         errors=[{"code": 131026, "title": "Message undeliverable"}]))
        await post_signed(client, status("read", 1700000050))
    row = await fetch_one(db, "SELECT status, status_error FROM crm.messages WHERE external_id = 'wamid.OUT.1'")
    assert row["status"] == "failed" and row["status_error"][0]["code"] == 131026
    assert await count(db, "message_status_events") == 4, "history keeps every distinct status once"


async def test_bad_signature_unsigned_and_wrong_secret_are_401_and_store_nothing(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    body = (meta_fixture_files()[0]).read_bytes()
    async with api_client(make_settings(clean_db)) as client:
        unsigned = await client.post(WEBHOOK, content=body, headers={"Content-Type": "application/json"})
        forged = await client.post(WEBHOOK, content=body, headers=signed_headers(body, "not-the-secret"))
        tampered = await client.post(WEBHOOK, content=body + b" ", headers=signed_headers(body))
        garbage = await client.post(WEBHOOK, content=body, headers={"X-Hub-Signature-256": "sha256=zz"})
    for response in (unsigned, forged, tampered, garbage):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_signature"
    assert await count(db, "raw_webhook_events") == 0


async def test_second_app_secret_is_accepted(clean_db: str, db: psycopg.AsyncConnection) -> None:
    body = meta_fixture_files()[0].read_bytes()
    settings = make_settings(clean_db, meta_app_secret=["fb-secret", "ig-secret"])
    async with api_client(settings) as client:
        response = await client.post(WEBHOOK, content=body, headers=signed_headers(body, "ig-secret"))
    assert response.status_code == 200


async def test_without_secret_outside_production_events_are_stored_unchecked(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    body = meta_fixture_files()[0].read_bytes()
    async with api_client(make_settings(clean_db, meta_app_secret=[], app_env="development")) as client:
        response = await client.post(WEBHOOK, content=body)
    assert response.status_code == 200
    assert (await fetch_one(db, "SELECT signature_state FROM crm.raw_webhook_events"))["signature_state"] == \
        "unchecked"


async def test_production_without_secret_refuses_to_start(clean_db: str) -> None:
    from serving.main import UnsafeConfiguration

    with pytest.raises(UnsafeConfiguration):
        async with api_client(make_settings(clean_db, meta_app_secret=[], app_env="production")):
            pass


@pytest.mark.parametrize(("body", "error"), [
    (b"{not json", "malformed_json"),
    (b"\xff\xfe\x00", "malformed_json"),
    (b"", "malformed_json"),
    (b"[1, 2]", "invalid_payload"),
    (b'"entry"', "invalid_payload"),
])
async def test_bad_json_is_400_and_stores_nothing(body: bytes, error: str, clean_db: str,
                                                  db: psycopg.AsyncConnection) -> None:
    async with api_client(make_settings(clean_db)) as client:
        response = await client.post(WEBHOOK, content=body, headers=signed_headers(body))
    assert response.status_code == 400 and response.json()["error"] == error
    assert await count(db, "raw_webhook_events") == 0


async def test_oversize_body_is_413(clean_db: str, db: psycopg.AsyncConnection) -> None:
    body = orjson.dumps({"object": "page", "entry": [], "pad": "x" * 5000})
    async with api_client(make_settings(clean_db, webhook_max_body_bytes=4096)) as client:
        declared = await client.post(WEBHOOK, content=body, headers=signed_headers(body))

        async def chunks():  # no Content-Length: the limit still holds while streaming
            for start in range(0, len(body), 1000):
                yield body[start:start + 1000]

        streamed = await client.post(WEBHOOK, content=chunks(), headers=signed_headers(body))
    assert declared.status_code == 413 and streamed.status_code == 413
    assert await count(db, "raw_webhook_events") == 0


async def test_unknown_objects_are_stored_and_acknowledged(clean_db: str, db: psycopg.AsyncConnection) -> None:
    body = {"object": "permissions", "entry": [{"id": 1, "time": 2, "changes": [{"field": "x", "value": {}}]}],
            "extra": {"nested": [1, 2, 3]}}
    async with api_client(make_settings(clean_db)) as client:
        response = await post_signed(client, body)
    assert response.status_code == 200 and response.json()["queued"] is False
    row = await fetch_one(db, "SELECT processing_status, unparsed FROM crm.raw_webhook_events")
    assert row["processing_status"] == "no_action" and row["unparsed"]


async def test_database_unreachable_answers_503(clean_db: str) -> None:
    settings = make_settings("postgresql://crm@127.0.0.1:1/crm", webhook_write_timeout_s=3.0,
                             db_connect_timeout_s=1.0)
    body = meta_fixture_files()[0].read_bytes()
    async with api_client(settings) as client:
        response = await client.post(WEBHOOK, content=body, headers=signed_headers(body))
        ready = await client.get("/readyz")
    assert response.status_code == 503 and response.json()["error"] == "not_stored"
    assert response.headers["retry-after"]
    assert ready.status_code == 503


async def test_verification_handshake(clean_db: str) -> None:
    async with api_client(make_settings(clean_db)) as client:
        for path in (WEBHOOK, f"{WEBHOOK}/verify"):
            ok = await client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                                "hub.challenge": "1158201444"})
            assert ok.status_code == 200 and ok.text == "1158201444"
            assert ok.headers["content-type"].startswith("text/plain")
            wrong = await client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                                   "hub.challenge": "1"})
            assert wrong.status_code == 403
            assert (await client.get(path)).status_code == 403


async def test_health_and_docs_are_open(clean_db: str) -> None:
    async with api_client(make_settings(clean_db)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["schema_revision"]
        spec = (await client.get("/openapi.json")).json()
        assert "/api/v1/webhooks/inbound" in spec["paths"]




async def test_valid_json_orjson_refuses_is_still_stored(clean_db: str, db: psycopg.AsyncConnection) -> None:
    """Integers beyond 64 bits and NUL escapes are valid JSON: stored and acknowledged, never a 400 or 500."""
    body = (b'{"object": "page", "entry": [{"id": "PAGE1", "time": 1700000000, "changes": [{"field": "feed", '
            b'"value": {"item": "reaction", "verb": "add", "reaction_type": "like", "post_id": "PAGE1_2", '
            b'"from": {"id": 123456789012345678901234567890, "name": "Big\\u0000Id"}, '
            b'"created_time": 1700000000}}]}], "\\u0000odd": 1}')
    async with api_client(make_settings(clean_db)) as client:
        response = await post_signed(client, body)
    assert response.status_code == 200, response.text
    row = await fetch_one(db, "SELECT author_external_id, author_name FROM crm.page_feed_events")
    assert row == {"author_external_id": "123456789012345678901234567890", "author_name": "BigId"}
    assert bytes((await fetch_one(db, "SELECT body FROM crm.raw_webhook_events"))["body"]) == body


async def test_deeply_nested_json_is_a_clear_400(clean_db: str) -> None:
    body = b'{"object": "page", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with api_client(make_settings(clean_db)) as client:
        response = await post_signed(client, body)
    assert response.status_code == 400 and response.json()["error"] == "malformed_json"


async def test_a_parser_failure_keeps_the_event_as_a_dead_letter(
    clean_db: str, db: psycopg.AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving.routes import webhooks

    def broken_parser(body: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(webhooks, "parse_webhook", broken_parser)
    async with api_client(make_settings(clean_db)) as client:
        response = await post_signed(client, {"object": "page", "entry": []})
    assert response.status_code == 200 and response.json()["dead_letter"] is True
    row = await fetch_one(db, "SELECT processing_status, last_error FROM crm.raw_webhook_events")
    assert row["processing_status"] == "dead_letter" and "surprise" in row["last_error"]
    assert await count(db, "procrastinate_jobs") == 0


async def test_a_body_the_database_rejects_is_kept_as_a_dead_letter_without_hurting_its_batch(
    clean_db: str, db: psycopg.AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving.services.ingest import store

    real = store._document

    def poisoned(delivery):  # noqa: ANN001 - a timestamp PostgreSQL cannot read fails the whole statement
        document = real(delivery)
        for message in document.get("messages", []):
            if message.text == "poison":
                return {**document, "messages": [{**{"channel": "whatsapp"}, "sent_at": "not-a-time",
                                                   "dedup_key": "p", "direction": "inbound",
                                                   "message_type": "text", "counterpart_external_id": "1"}]}
        return document

    monkeypatch.setattr(store, "_document", poisoned)

    def wa(wamid: str, text: str) -> dict:
        return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                          "messages": [{"from": "50760000001", "id": wamid, "timestamp": "1700000000",
                                        "type": "text", "text": {"body": text}}]}}]}]}

    async with api_client(make_settings(clean_db)) as client:
        responses = await asyncio.gather(*(post_signed(client, wa(f"wamid.OK{i}", "hola")) for i in range(10)),
                                         post_signed(client, wa("wamid.BAD", "poison")))
    assert all(r.status_code == 200 for r in responses)
    assert responses[-1].json()["dead_letter"] is True
    assert await count(db, "messages") == 10
    row = await fetch_one(db, "SELECT last_error FROM crm.raw_webhook_events WHERE processing_status = "
                              "'dead_letter'")
    assert "not-a-time" in row["last_error"] or "timestamp" in row["last_error"]


async def test_a_redelivery_in_a_new_envelope_queues_nothing(clean_db: str, db: psycopg.AsyncConnection) -> None:
    """Meta (or a proxy) may resend stored messages in a different body: the body is kept, nothing is queued."""
    first = json.loads((Path(__file__).parents[1] / "fixtures/meta/wa_batched_entries.json").read_text())
    async with api_client(make_settings(clean_db)) as client:
        await post_signed(client, first)
        before = await snapshot(db)
        rewrapped = {"entry": first["entry"][:1], "object": "whatsapp_business_account"}  # keys reordered
        response = await post_signed(client, rewrapped)
    after = await snapshot(db)
    assert response.json()["status"] == "stored" and response.json()["queued"] is False
    assert after["procrastinate_jobs"] == before["procrastinate_jobs"]
    assert after["messages"] == before["messages"]
    assert after["raw_webhook_events"] == before["raw_webhook_events"] + 1
    row = await fetch_one(db, "SELECT processing_status FROM crm.raw_webhook_events ORDER BY id DESC LIMIT 1")
    assert row["processing_status"] == "no_action"


async def test_lone_surrogates_and_long_integers_together_are_stored(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    body = (b'{"object": "instagram", "entry": [{"id": "17841", "time": 1700000000000, "messaging": [{"sender": '
            b'{"id": "555"}, "recipient": {"id": "17841"}, "timestamp": 1700000000000, "message": {"mid": "aWdf-s", '
            b'"text": "cortado \\ud83d", "n": 123456789012345678901234}}]}]}')
    async with api_client(make_settings(clean_db)) as client:
        response = await post_signed(client, body)
    assert response.status_code == 200 and response.json()["stored"] == {"messages": 1}
    row = await fetch_one(db, "SELECT text FROM crm.messages")
    assert row["text"] == "cortado \ufffd"
