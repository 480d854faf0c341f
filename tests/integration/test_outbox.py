"""Replies through the outbox and the Graph sandbox: once per inbound message, never twice after a crash."""

from __future__ import annotations

from decimal import Decimal

import httpx
import psycopg
import pytest
import respx

from crm.db.engine import create_engine, session_factory
from crm.settings import get_settings
from serving.schemas.catalog import ProductIn
from serving.services import catalog, outbox
from serving.services.channels.graph import GraphClient
from tests.helpers import T0, count, fetch_one
from tests.integration.test_worker import deliver, drain, wa_text

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]

POLICIES = {"currency": "USD", "coverage": "toda Panamá",
            "shipping": [{"name": "Express", "price": 15, "delay": "24-48 h"},
                         {"name": "Estándar", "price": 0, "delay": "3-5 días"}]}


def sandbox_requests(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/messages").json()


@pytest.fixture
def sandbox(graph_sandbox: str) -> str:
    httpx.delete(f"{graph_sandbox}/_sandbox/messages")
    return graph_sandbox


async def load_catalog(database_url: str) -> None:
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        await catalog.upsert_products(session, [
            ProductIn(sku="DELL-XPS13", name="Dell XPS 13", price=Decimal("1099"), stock=3, category="laptops",
                      description="Intel i7, 16GB RAM, SSD 512GB, ideal para programación y desarrollo web"),
            ProductIn(sku="LEN-X1", name="Lenovo ThinkPad X1", price=Decimal("1189"), stock=5, category="laptops",
                      description="Intel i7, 16GB RAM, SSD 1TB, teclado legendario para programar"),
            ProductIn(sku="MAC-PRO", name="MacBook Pro 14", price=Decimal("1999"), stock=2, category="laptops",
                      description="Laptop M3 Pro para programación"),
        ])
        await catalog.replace_policies(session, POLICIES)
        await session.commit()
    await engine.dispose()


async def test_the_spec_conversation_through_the_worker_and_the_sandbox(clean_db: str, sandbox: str) -> None:
    await load_catalog(clean_db)
    turns = ["Hola, busco una laptop para programación", "Desarrollo web, presupuesto hasta $1200",
             "Me gusta la Dell, cuánto demora el envío?"]
    for n, text in enumerate(turns):
        await deliver(clean_db, wa_text(f"wamid.SPEC{n}", text, ts=T0 + 60 * n))
        await drain(clean_db)
    sent = [r["body"] for r in sandbox_requests(sandbox)]
    assert len(sent) == 3 and all(body["to"] == "50761234567" for body in sent)
    texts = [b["text"]["body"] if b["type"] == "text" else b["interactive"]["body"]["text"] for b in sent]
    assert "presupuesto" in texts[0]
    assert "Dell XPS 13** - $1,099" in texts[1] and "3 en stock" in texts[1] and "$1,189" in texts[1]
    assert "MacBook" not in texts[1]
    assert "Express (24-48 h): $15" in texts[2] and "Gratis" in texts[2] and "toda Panamá" in texts[2]
    assert sent[1]["type"] == "interactive", "suggested replies become WhatsApp buttons"


async def test_one_message_delivered_twice_gets_one_reply(clean_db: str, sandbox: str,
                                                         db: psycopg.AsyncConnection) -> None:
    body = wa_text("wamid.TWICE", "hola, tienen laptops?")
    await deliver(clean_db, body, body)
    await drain(clean_db)
    await deliver(clean_db, body)
    await drain(clean_db)
    assert len(sandbox_requests(sandbox)) == 1
    assert await count(db, "outbound_messages") == 1


async def test_a_send_interrupted_by_a_crash_is_confirmed_never_repeated(clean_db: str, sandbox: str,
                                                                         db: psycopg.AsyncConnection) -> None:
    await deliver(clean_db, wa_text("wamid.CRASH", "hola, precio de la laptop?"))
    await drain(clean_db)
    assert len(sandbox_requests(sandbox)) == 1
    httpx.delete(f"{sandbox}/_sandbox/messages")
    # As if the worker died after Meta accepted the send but before it recorded it: the row is still `sending`.
    await db.execute("UPDATE crm.outbound_messages SET status = 'sending', external_id = NULL")
    row = await fetch_one(db, "SELECT id, idempotency_key FROM crm.outbound_messages")
    engine = create_engine(clean_db)
    sessions = session_factory(engine)
    graph = GraphClient(sandbox, "v21.0")
    try:
        with pytest.raises(outbox.RetryLater):  # within the window: wait for Meta's webhook
            await outbox.send_outbound(sessions, graph, get_settings(), row["id"])
        await db.execute("UPDATE crm.outbound_messages SET created_at = now() - interval '10 minutes', "
                         "sending_started_at = now() - interval '10 minutes'")
        assert await outbox.send_outbound(sessions, graph, get_settings(), row["id"]) == "unconfirmed"
        # Had a status webhook carried our key, the row would be confirmed sent instead.
        await db.execute("UPDATE crm.outbound_messages SET status = 'sending'")
        await db.execute("INSERT INTO crm.message_status_events (channel, dedup_key, external_message_id, status, "
                         "status_rank, details) VALUES ('whatsapp', 'wamid.X:sent', 'wamid.X', 'sent', 2, "
                         "jsonb_build_object('biz_opaque_callback_data', %s::text))", (row["idempotency_key"],))
        assert await outbox.send_outbound(sessions, graph, get_settings(), row["id"]) == "sent"
    finally:
        await graph.aclose()
        await engine.dispose()
    assert sandbox_requests(sandbox) == [], "nothing was sent again"


async def test_graph_errors_retry_or_fail_with_their_code(clean_db: str, sandbox: str,
                                                          db: psycopg.AsyncConnection) -> None:
    await deliver(clean_db, wa_text("wamid.ERR", "hola, tienen laptops?"))
    await drain(clean_db)
    # Send the same queued row again, this time against a Graph API that refuses.
    await db.execute("UPDATE crm.outbound_messages SET status = 'queued', attempts = 0, external_id = NULL")
    row = await fetch_one(db, "SELECT id FROM crm.outbound_messages")
    engine = create_engine(clean_db)
    sessions = session_factory(engine)
    graph = GraphClient("https://graph.test", "v21.0")
    try:
        with respx.mock(assert_all_called=True) as mock:
            route = mock.post("https://graph.test/v21.0/99/messages")
            route.return_value = httpx.Response(429, json={"error": {"code": 130429, "message": "rate limit"}})
            with pytest.raises(outbox.RetryLater):
                await outbox.send_outbound(sessions, graph, get_settings(), row["id"])
            assert (await fetch_one(db, "SELECT status FROM crm.outbound_messages"))["status"] == "queued"
            route.return_value = httpx.Response(400, json={"error": {"code": 131026, "message": "undeliverable"}})
            assert await outbox.send_outbound(sessions, graph, get_settings(), row["id"]) == "failed"
        failed = await fetch_one(db, "SELECT status, error_code, attempts FROM crm.outbound_messages")
        assert failed == {"status": "failed", "error_code": "131026", "attempts": 2}
    finally:
        await graph.aclose()
        await engine.dispose()


async def test_a_paused_bot_stays_silent(clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    await deliver(clean_db, wa_text("wamid.P1", "hola"))
    await drain(clean_db)
    await db.execute("UPDATE crm.conversations SET bot_paused = true")
    await deliver(clean_db, wa_text("wamid.P2", "sigues ahi?", ts=1700000100))
    await drain(clean_db)
    assert len(sandbox_requests(sandbox)) == 1


async def test_opt_out_words_opt_out_and_direct_replies_go_on(clean_db: str, sandbox: str,
                                                              db: psycopg.AsyncConnection) -> None:
    await deliver(clean_db, wa_text("wamid.O1", "BAJA"))
    await drain(clean_db)
    contact = await fetch_one(db, "SELECT opted_out, attributes FROM crm.contacts")
    assert contact["opted_out"] is True and contact["attributes"]["opted_out_via"] == "whatsapp"
    [confirmation] = [r["body"] for r in sandbox_requests(sandbox)]
    assert "no te enviaremos más mensajes promocionales" in confirmation["text"]["body"]
    await deliver(clean_db, wa_text("wamid.O2", "hola, tienen laptops?", ts=1700000100))
    await drain(clean_db)
    assert len(sandbox_requests(sandbox)) == 2, "a question still gets its direct reply"
    assert (await fetch_one(db, "SELECT opted_out FROM crm.contacts"))["opted_out"] is True


async def test_a_burst_of_messages_gets_one_considered_answer(clean_db: str, sandbox: str,
                                                              db: psycopg.AsyncConnection) -> None:
    """Three messages processed before any reply went out: only the reply to the last one is sent, and it was
    composed knowing all three (the budget from the second shows in the recommendation)."""
    await load_catalog(clean_db)
    from tests.integration.test_worker import worker_module

    for n, text in enumerate(["hola", "busco una laptop para programar", "presupuesto hasta $1200"]):
        await deliver(clean_db, wa_text(f"wamid.BURST{n}", text, ts=T0 + n))
    # Process the inbound queue only (replies wait), as when messages arrive faster than replies go out.
    await db.execute("UPDATE crm.procrastinate_jobs SET scheduled_at = now() + interval '1 hour' "
                     "WHERE task_name = 'send_outbound'")
    for _ in range(5):
        await worker_module.run_worker(clean_db, concurrency=1, wait=False, install_signal_handlers=False)
        await db.execute("UPDATE crm.procrastinate_jobs SET scheduled_at = now() + interval '1 hour' "
                         "WHERE task_name = 'send_outbound' AND status = 'todo'")
    await db.execute("UPDATE crm.procrastinate_jobs SET scheduled_at = NULL WHERE task_name = 'send_outbound'")
    await drain(clean_db)
    sent = [r["body"] for r in sandbox_requests(sandbox)]
    assert len(sent) == 1
    body = sent[0]["interactive"]["body"]["text"] if sent[0]["type"] == "interactive" else sent[0]["text"]["body"]
    assert "$1,099" in body
    statuses = sorted(row[0] for row in await (await db.execute(
        "SELECT status FROM crm.outbound_messages")).fetchall())
    assert statuses == ["sent", "superseded", "superseded"]


async def test_an_idle_worker_still_waits_out_a_burst(clean_db: str, sandbox: str, db: psycopg.AsyncConnection,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages arriving seconds apart, each processed at once by an idle worker: the first is answered, the
    replies within the burst wait the debounce, and only the last of them goes."""
    import asyncio

    monkeypatch.setenv("REPLY_DEBOUNCE_MS", "2500")
    get_settings.cache_clear()
    await load_catalog(clean_db)
    for n, text in enumerate(["hola", "busco una laptop para programar", "presupuesto hasta $1200"]):
        await deliver(clean_db, wa_text(f"wamid.IDLE{n}", text, ts=T0 + 3 * n))
        await drain(clean_db, release_delayed=False)
    delayed = await count(db, "procrastinate_jobs", "task_name = 'send_outbound' AND scheduled_at > now()")
    assert delayed == 2, "the replies inside the burst wait"
    await asyncio.sleep(2.6)  # let the debounce pass (nothing is measured)
    await drain(clean_db, release_delayed=False)
    statuses = [row[0] for row in await (await db.execute(
        "SELECT status FROM crm.outbound_messages ORDER BY in_reply_to_message_id")).fetchall()]
    assert statuses == ["sent", "superseded", "sent"]
    get_settings.cache_clear()


async def test_a_send_that_cannot_succeed_is_settled_not_left_queued(clean_db: str, sandbox: str,
                                                                     db: psycopg.AsyncConnection,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.test_worker import worker_module

    async def broken(*args: object, **kwargs: object) -> str:
        raise KeyError("unexpected answer")

    monkeypatch.setattr(worker_module.outbox, "send_outbound", broken)
    await deliver(clean_db, wa_text("wamid.BROKEN", "hola, tienen laptops?"))
    await drain(clean_db)
    # The inline send failed: a send job took over (after a short wait, released by drain) and gave up for good.
    row = await fetch_one(db, "SELECT status, error_code, last_error FROM crm.outbound_messages")
    assert row["status"] == "failed" and row["error_code"] == "gave_up" and "unexpected answer" in row["last_error"]


async def test_a_reply_left_without_a_job_by_a_crash_is_picked_up_by_the_sweep(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    """The worker died after committing the reply and before sending it inline: no job exists for the row."""
    await deliver(clean_db, wa_text("wamid.ORPHAN", "hola, tienen laptops?"))
    await drain(clean_db)
    await db.execute("UPDATE crm.outbound_messages SET status = 'queued', external_id = NULL, "
                     "created_at = now() - interval '2 minutes'")
    httpx.delete(f"{sandbox}/_sandbox/messages")
    engine = create_engine(clean_db)
    try:
        for expected in (1, 0):  # once: the job now exists
            async with session_factory(engine)() as session:
                assert await outbox.requeue_orphans(session) == expected
                await session.commit()
    finally:
        await engine.dispose()
    await drain(clean_db)
    assert len(sandbox_requests(sandbox)) == 1
    assert (await fetch_one(db, "SELECT status FROM crm.outbound_messages"))["status"] == "sent"
