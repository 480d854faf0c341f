"""The worker: contacts and conversations from channel identities, retries, and the dead-letter state."""

from __future__ import annotations

import orjson
import psycopg
import pytest
from procrastinate import RetryStrategy

from serving import worker as worker_module
from serving.services import pipeline
from serving.services.ingest.store import PROCESS_TASK
from tests.helpers import T0, T0_MS, add_api_key, api_client, count, fetch_one, make_settings, post_signed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]


def wa_text(wamid: str, text: str, wa_id: str = "50761234567", name: str = "Ana Pérez",
            user_id: str | None = "PA.111", ts: int = T0) -> dict:
    contact = {"profile": {"name": name}, "wa_id": wa_id}
    if user_id:
        contact["user_id"] = user_id
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                      "contacts": [contact],
                      "messages": [{"from": wa_id, "id": wamid, "timestamp": str(ts), "type": "text",
                                    "text": {"body": text}}]}}]}]}


def ig_text(mid: str, sender: str, text: str, ts: int = T0_MS) -> dict:
    return {"object": "instagram", "entry": [{"id": "17841", "time": ts, "messaging": [
        {"sender": {"id": sender}, "recipient": {"id": "17841"}, "timestamp": ts,
         "message": {"mid": mid, "text": text}}]}]}


async def deliver(database_url: str, *bodies: dict) -> list[dict]:
    async with api_client(make_settings(database_url)) as client:
        return [(await post_signed(client, body)).json() for body in bodies]


async def drain(database_url: str, release_delayed: bool = True) -> None:
    """Run the real procrastinate worker until no job is ready (a job waiting on its customer's lock makes a
    non-waiting worker stop early, so go round until the queue has nothing runnable). With `release_delayed`,
    sends waiting out a burst's debounce are released as if the wait had passed."""
    for _ in range(20):
        await worker_module.run_worker(database_url, concurrency=2, wait=False, install_signal_handlers=False)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM crm.procrastinate_jobs WHERE status = 'todo' "
                "AND (scheduled_at IS NULL OR scheduled_at <= now())")
            if (await cursor.fetchone())[0] > 0:
                continue
            if not release_delayed:
                return
            cursor = await conn.execute(
                "UPDATE crm.procrastinate_jobs SET scheduled_at = NULL WHERE status = 'todo' "
                "AND task_name = 'send_outbound' AND scheduled_at > now()")
            if cursor.rowcount == 0:
                return
    raise AssertionError("the queue did not drain")


async def test_worker_creates_contact_and_conversation_and_reuses_them(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    await deliver(clean_db, wa_text("wamid.A1", "hola, precio del iphone?"),
                  wa_text("wamid.A2", "y envio a David?", ts=(T0 + 60)),
                  ig_text("aWdf1", "778899", "hi! in stock?"))
    await drain(clean_db)

    assert await count(db, "raw_webhook_events", "processing_status = 'processed'") == 3
    assert await count(db, "contacts") == 2
    ana = await fetch_one(db, "SELECT * FROM crm.contacts WHERE display_name = 'Ana Pérez'")
    assert ana["phone_e164"] == "+50761234567" and ana["source_channel"] == "whatsapp"
    identities = await db.execute(
        "SELECT kind, external_id FROM crm.contact_identities WHERE contact_id = %s ORDER BY kind", (ana["id"],))
    assert await identities.fetchall() == [("bsuid", "PA.111"), ("wa_id", "50761234567")]
    conversation = await fetch_one(db, "SELECT * FROM crm.conversations WHERE contact_id = %s", ana["id"])
    assert conversation["status"] == "open" and conversation["channel"] == "whatsapp"
    assert conversation["last_inbound_at"].timestamp() == (T0 + 60)
    assert await count(db, "messages", "conversation_id = %s AND direction = 'inbound'", conversation["id"]) == 2
    assert await count(db, "messages", "processed_at IS NULL OR contact_id IS NULL") == 0
    assert await count(db, "automation_events", "event_type = 'message.received' AND (payload->>'conversation_id')::bigint = %s",
                       conversation["id"]) == 2, "one event per message"
    # One reply per message, through the outbox and the Graph sandbox; when the second message arrived before the
    # first reply went out, the first reply is superseded (a burst gets one answer).
    sent = await count(db, "outbound_messages", "conversation_id = %s AND status = 'sent'", conversation["id"])
    superseded = await count(db, "outbound_messages", "conversation_id = %s AND status = 'superseded'",
                             conversation["id"])
    assert sent >= 1 and sent + superseded == 2
    assert await count(db, "messages", "conversation_id = %s AND direction = 'outbound'", conversation["id"]) == sent
    ig = await fetch_one(db, "SELECT contact_id FROM crm.contact_identities WHERE kind = 'igsid'")
    assert ig["contact_id"] != ana["id"]


async def test_business_scoped_id_alone_finds_the_same_contact(clean_db: str, db: psycopg.AsyncConnection) -> None:
    await deliver(clean_db, wa_text("wamid.B1", "hola"))
    await drain(clean_db)
    # Newer payloads may carry only the business-scoped user id for a known person.
    body = wa_text("wamid.B2", "sigo esperando", user_id="PA.111")
    body["entry"][0]["changes"][0]["value"]["contacts"][0].pop("wa_id")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = "PA.111"
    await deliver(clean_db, body)
    await drain(clean_db)
    assert await count(db, "contacts") == 1
    assert await count(db, "conversations") == 1


async def test_changed_number_joins_the_same_contact(clean_db: str, db: psycopg.AsyncConnection) -> None:
    await deliver(clean_db, wa_text("wamid.C1", "hola", wa_id="972987654321", user_id=None))
    system = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
              "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                        "messages": [{"from": "972987654321", "id": "wamid.SYS", "timestamp": "1700000100",
                                      "type": "system", "system": {"body": "changed", "wa_id": "972912345678",
                                                                    "type": "user_changed_number"}}]}}]}]}
    await deliver(clean_db, system)
    await drain(clean_db)
    await deliver(clean_db, wa_text("wamid.C2", "soy yo con numero nuevo", wa_id="972912345678", user_id=None,
                                    ts=1700000200))
    await drain(clean_db)
    assert await count(db, "contacts") == 1


async def test_failures_are_retried_then_dead_lettered_with_the_error(
    clean_db: str, db: psycopg.AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = worker_module.app.tasks[PROCESS_TASK]
    monkeypatch.setattr(task, "retry_strategy", RetryStrategy(max_attempts=2, wait=0))
    calls = {"n": 0}
    real = pipeline.process_raw_event

    async def broken(session, raw_event_id, **options):  # noqa: ANN001, ANN003
        calls["n"] += 1
        raise RuntimeError("enrichment service exploded")

    monkeypatch.setattr(pipeline, "process_raw_event", broken)
    [stored] = await deliver(clean_db, ig_text("aWdf-dead", "555", "hola"))
    for _ in range(4):
        await drain(clean_db)
    assert calls["n"] == 3, "first run plus two retries"
    event = await fetch_one(db, "SELECT * FROM crm.raw_webhook_events WHERE id = %s", stored["event_id"])
    assert event["processing_status"] == "dead_letter"
    assert event["attempts"] == 3 and "enrichment service exploded" in event["last_error"]
    job = await fetch_one(db, "SELECT status FROM crm.procrastinate_jobs WHERE task_name = %s", PROCESS_TASK)
    assert job["status"] == "failed"
    assert await count(db, "messages", "processed_at IS NULL") == 1, "the message is kept, unprocessed"

    # After the fix, requeueing finishes the work.
    monkeypatch.setattr(pipeline, "process_raw_event", real)
    async with api_client(make_settings(clean_db)) as client:
        admin = await add_api_key(db, "admin")
        dead = await client.get("/api/v1/events", params={"status": "dead_letter"}, headers=admin)
        assert [e["id"] for e in dead.json()] == [stored["event_id"]]
        retried = await client.post(f"/api/v1/events/{stored['event_id']}/retry", headers=admin)
        assert retried.status_code == 200
    await drain(clean_db)
    event = await fetch_one(db, "SELECT processing_status FROM crm.raw_webhook_events WHERE id = %s",
                            stored["event_id"])
    assert event["processing_status"] == "processed"
    assert await count(db, "contacts") == 1


async def test_a_transient_failure_recovers_on_retry(
    clean_db: str, db: psycopg.AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = worker_module.app.tasks[PROCESS_TASK]
    monkeypatch.setattr(task, "retry_strategy", RetryStrategy(max_attempts=3, wait=0))
    real = pipeline.process_raw_event
    calls = {"n": 0}

    async def flaky(session, raw_event_id, **options):  # noqa: ANN001, ANN003
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("blip")
        return await real(session, raw_event_id, **options)

    monkeypatch.setattr(pipeline, "process_raw_event", flaky)
    [stored] = await deliver(clean_db, ig_text("aWdf-flaky", "556", "hola"))
    for _ in range(3):
        await drain(clean_db)
    event = await fetch_one(db, "SELECT * FROM crm.raw_webhook_events WHERE id = %s", stored["event_id"])
    assert event["processing_status"] == "processed" and event["attempts"] == 1
    assert event["last_error"] is None, "a success clears the previous attempt's error"


async def test_processing_twice_changes_nothing(clean_db: str, db: psycopg.AsyncConnection) -> None:
    [stored] = await deliver(clean_db, wa_text("wamid.D1", "hola"))
    await drain(clean_db)
    before = {t: await count(db, t) for t in ("contacts", "contact_identities", "conversations")}
    from crm.db.engine import create_engine, session_factory

    engine = create_engine(clean_db)
    async with session_factory(engine)() as session:
        await db.execute("UPDATE crm.raw_webhook_events SET processing_status = 'queued'")
        summary = await pipeline.process_raw_event(session, stored["event_id"])
    await engine.dispose()
    assert summary.messages == 0
    assert {t: await count(db, t) for t in before} == before


async def test_comments_become_contacts_but_the_page_itself_does_not(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    def comment(cid: str, author: str) -> dict:
        return {"object": "page", "entry": [{"id": "PAGE1", "time": T0, "changes": [{"field": "feed",
                "value": {"item": "comment", "verb": "add", "comment_id": cid, "post_id": "PAGE1_1",
                          "from": {"id": author, "name": "X"}, "created_time": T0,
                          "message": "precio?"}}]}]}

    await deliver(clean_db, comment("1_1", "USER7"), comment("1_2", "PAGE1"))
    await drain(clean_db)
    assert await count(db, "contacts") == 1
    assert await count(db, "social_comments", "processed_at IS NOT NULL") == 2




async def test_a_status_that_arrives_before_its_message_is_applied_when_the_message_is_processed(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    def receipt(state: str, ts: int) -> dict:
        return {"object": "page", "entry": [{"id": "PAGE1", "time": ts, "messaging": [
            {"sender": {"id": "USER1"}, "recipient": {"id": "PAGE1"}, "timestamp": ts,
             "read" if state == "read" else "delivery": {"mids": ["m_ECHO1"]} if state != "read" else
             {"mid": "m_ECHO1"}}]}]}

    echo = {"object": "page", "entry": [{"id": "PAGE1", "time": T0_MS, "messaging": [
        {"sender": {"id": "PAGE1"}, "recipient": {"id": "USER1"}, "timestamp": T0_MS,
         "message": {"mid": "m_ECHO1", "text": "Hola! te atiende Carla", "is_echo": True}}]}]}
    unsend_first = {"object": "instagram", "entry": [{"id": "IG1", "time": T0_MS, "messaging": [
        {"sender": {"id": "IGUSER"}, "recipient": {"id": "IG1"}, "timestamp": 1700000005000,
         "message": {"mid": "aWdf-withdrawn", "is_deleted": True}}]}]}
    withdrawn = ig_text("aWdf-withdrawn", "IGUSER", "ups, mensaje equivocado", ts=T0_MS)
    withdrawn["entry"][0]["id"] = withdrawn["entry"][0]["messaging"][0]["recipient"]["id"] = "IG1"
    await deliver(clean_db, receipt("read", (T0_MS + 9000)), unsend_first)
    await deliver(clean_db, receipt("delivered", 1700000008000), echo, withdrawn)
    await drain(clean_db)
    row = await fetch_one(db, "SELECT status, direction FROM crm.messages WHERE external_id = 'm_ECHO1'")
    assert row == {"status": "read", "direction": "outbound"}
    gone = await fetch_one(db, "SELECT status, deleted_at FROM crm.messages WHERE external_id = 'aWdf-withdrawn'")
    assert gone["status"] == "deleted" and gone["deleted_at"] is not None


async def test_an_ingest_dead_letter_is_recovered_by_retry(
    clean_db: str, db: psycopg.AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving.routes import webhooks

    def broken_parser(body: object) -> None:
        raise KeyError("parser bug")

    monkeypatch.setattr(webhooks, "parse_webhook", broken_parser)
    [stored] = await deliver(clean_db, wa_text("wamid.LOST?", "hola, quiero 2 iphone"))
    assert stored["dead_letter"] is True
    monkeypatch.undo()  # the bug is fixed and deployed

    admin = await add_api_key(db, "admin")
    async with api_client(make_settings(clean_db)) as client:
        retried = await client.post(f"/api/v1/events/{stored['event_id']}/retry", headers=admin)
    assert retried.status_code == 200
    await drain(clean_db)
    message = await fetch_one(db, "SELECT text, contact_id, conversation_id FROM crm.messages")
    assert message["text"] == "hola, quiero 2 iphone" and message["contact_id"] and message["conversation_id"]
    event = await fetch_one(db, "SELECT processing_status, item_counts FROM crm.raw_webhook_events")
    assert event["processing_status"] == "processed" and event["item_counts"]["messages"] == 1


async def test_a_job_orphaned_by_a_dead_worker_is_requeued_and_its_customer_unblocked(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    [first, second] = await deliver(clean_db, ig_text("aWdf-o1", "777", "hola"),
                                    ig_text("aWdf-o2", "777", "sigo aqui?", ts=(T0_MS + 9000)))
    # A worker took the first job, then died without a trace (kill -9): the job stays `doing`, and the second
    # job, which shares the customer's lock, cannot start.
    await db.execute("INSERT INTO crm.procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour')")
    await db.execute("UPDATE crm.procrastinate_jobs SET status = 'doing', worker_id = (SELECT max(id) FROM "
                     "crm.procrastinate_workers) WHERE args->>'raw_event_id' = %s", (str(first["event_id"]),))
    async with worker_module.worker_resources(clean_db) as worker_app:
        assert await worker_module.retry_stalled_jobs(worker_app) == 1
    await drain(clean_db)
    assert await count(db, "raw_webhook_events", "processing_status = 'processed'") == 2
    assert second["event_id"]


async def test_the_worker_understands_inbound_text_and_keeps_aggregates(
    clean_db: str, db: psycopg.AsyncConnection
) -> None:
    await deliver(clean_db,
                  wa_text("wamid.N1", "hola! quiero 3 audifonos jbl para mi negocio, pago por yappy hoy mismo"),
                  wa_text("wamid.N2", "y si no llegan hoy me voy a otra tienda, ya me tienen harto 😡", ts=1700000100))
    reaction = wa_text("wamid.N3", "", ts=1700000200)
    value = reaction["entry"][0]["changes"][0]["value"]
    value["messages"][0] = {"from": "50761234567", "id": "wamid.N3", "timestamp": "1700000200", "type": "reaction",
                            "reaction": {"message_id": "wamid.N1", "emoji": "👍"}}
    await deliver(clean_db, reaction)
    await drain(clean_db)

    assert await count(db, "intent_detections") == 2, "text messages are analysed; the reaction is not"
    assert await count(db, "sentiment_analyses") == 2 and await count(db, "lead_classifications") == 2
    assert await count(db, "routing_decisions") == 2
    first = await fetch_one(db, "SELECT i.primary_intent, l.score, l.category FROM crm.intent_detections i "
                                "JOIN crm.messages m ON m.id = i.message_id JOIN crm.lead_classifications l "
                                "ON l.message_id = m.id WHERE m.external_id = 'wamid.N1'")
    assert first["primary_intent"] == "purchase_inquiry" and first["score"] >= 50
    conversation = await fetch_one(db, "SELECT * FROM crm.conversations")
    assert conversation["message_count"] == 3 and conversation["analyzed_count"] == 2
    scores = {row[0]: row[1] for row in await (await db.execute(
        "SELECT m.external_id, s.score FROM crm.sentiment_analyses s JOIN crm.messages m ON m.id = s.message_id"
    )).fetchall()}
    assert scores["wamid.N2"] < 0
    assert conversation["avg_sentiment"] == pytest.approx((scores["wamid.N1"] + scores["wamid.N2"]) / 2, abs=1e-3)
    leads = {row[0]: row[1] for row in await (await db.execute(
        "SELECT m.external_id, l.score FROM crm.lead_classifications l JOIN crm.messages m ON m.id = l.message_id"
    )).fetchall()}
    contact = await fetch_one(db, "SELECT lead_score, lead_category, language FROM crm.contacts")
    assert leads["wamid.N2"] < leads["wamid.N1"]
    assert contact["lead_score"] == leads["wamid.N1"], "a later, lower score does not undo a recent hot one"
    assert contact["language"] == "es"
