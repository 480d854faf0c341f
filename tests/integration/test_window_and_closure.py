"""The 24-hour window (template path, 131047) and case closure (resolution, inactivity, CSAT only in window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import respx

from crm.db.engine import create_engine, session_factory
from crm.db.models import Conversation
from crm.settings import get_settings
from serving.services import closure, outbox
from serving.services.channels.graph import GraphClient
from tests.helpers import T0, count, fetch_one
from tests.integration.test_outbox import load_catalog, sandbox_requests
from tests.integration.test_worker import deliver, drain, wa_text

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]
DAY = 86400


@pytest.fixture
def sandbox(graph_sandbox: str) -> str:
    httpx.delete(f"{graph_sandbox}/_sandbox/messages")
    return graph_sandbox


async def add_number_with_template(db: psycopg.AsyncConnection, status: str = "APPROVED") -> None:
    await db.execute("INSERT INTO crm.channel_accounts (channel, external_id, business_account_id) "
                     "VALUES ('whatsapp', '99', 'WABA1')")
    await db.execute(
        "INSERT INTO crm.whatsapp_templates (business_account_id, name, language, category, status, components, "
        "parameter_count) VALUES ('WABA1', 'seguimiento', 'es', 'UTILITY', %s, %s::jsonb, 1)",
        (status, '[{"type": "BODY", "text": "Hola {{1}}, ¿seguimos con tu consulta?"}]'))


async def test_a_reply_after_the_window_closed_goes_as_an_approved_template(clean_db: str, sandbox: str,
                                                                          db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    await add_number_with_template(db)
    # The worker gets to a message the customer sent 25 hours ago (a long outage, say).
    await deliver(clean_db, wa_text("wamid.LATE", "hola, tienen laptops?", ts=T0 - DAY))
    await drain(clean_db)
    [request] = sandbox_requests(sandbox)
    template = request["body"]["template"]
    assert request["body"]["type"] == "template" and template["name"] == "seguimiento"
    assert template["components"][0]["parameters"] == [{"type": "text", "text": "Ana"}]
    row = await fetch_one(db, "SELECT kind, status, text FROM crm.outbound_messages")
    assert row["kind"] == "template" and row["status"] == "sent" and row["text"].startswith("Hola Ana,")


async def test_without_an_approved_template_nothing_is_sent_and_the_row_says_why(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    await add_number_with_template(db, status="REJECTED")
    await deliver(clean_db, wa_text("wamid.LATE2", "hola, tienen laptops?", ts=T0 - DAY))
    await drain(clean_db)
    assert sandbox_requests(sandbox) == []
    row = await fetch_one(db, "SELECT status, error_code, last_error FROM crm.outbound_messages")
    assert row["status"] == "failed" and row["error_code"] == "window_closed" and "templates sync" in row["last_error"]


async def test_meta_saying_131047_switches_to_the_template_once(clean_db: str, sandbox: str,
                                                                 db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    await add_number_with_template(db)
    await deliver(clean_db, wa_text("wamid.W1", "hola, tienen laptops?"))
    await drain(clean_db)
    await db.execute("UPDATE crm.outbound_messages SET status = 'queued', attempts = 0, external_id = NULL")
    row = await fetch_one(db, "SELECT id FROM crm.outbound_messages")
    engine = create_engine(clean_db)
    graph = GraphClient("https://graph.test", "v21.0")
    bodies: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        import json

        bodies.append(json.loads(request.content))
        if bodies[-1]["type"] != "template":
            return httpx.Response(400, json={"error": {"code": 131047, "message": "Re-engagement message"}})
        return httpx.Response(200, json={"messages": [{"id": "wamid.TPL"}]})

    try:
        with respx.mock:
            respx.post("https://graph.test/v21.0/99/messages").mock(side_effect=answer)
            with pytest.raises(outbox.RetryLater):
                await outbox.send_outbound(session_factory(engine), graph, get_settings(), row["id"])
            assert await outbox.send_outbound(session_factory(engine), graph, get_settings(), row["id"]) == "sent"
    finally:
        await graph.aclose()
        await engine.dispose()
    assert len(bodies) == 2 and bodies[0]["type"] != "template" and bodies[1]["type"] == "template"


async def test_thanks_resolves_and_the_sweep_closes_with_a_csat_list_inside_the_window(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    await deliver(clean_db, wa_text("wamid.C1", "hola, busco laptop para programar hasta $1200"))
    await drain(clean_db)
    await deliver(clean_db, wa_text("wamid.C2", "perfecto, muchas gracias!", ts=T0 + 60))
    await drain(clean_db)
    conversation = await fetch_one(db, "SELECT id, status FROM crm.conversations")
    assert conversation["status"] == "resolved"
    # An idle bot conversation of another customer, last active 30 hours ago: closed without a survey.
    await deliver(clean_db, wa_text("wamid.IDLE", "hola", wa_id="50760000002", user_id="PA.222", ts=T0 - DAY - 7200))
    await drain(clean_db)
    engine = create_engine(clean_db)
    settings = get_settings()
    try:
        async with session_factory(engine)() as session:
            early = await closure.close_conversations(session, settings)
            assert early.closed == {"inactivity": 1}, "the resolved one waits its grace period"
            await session.commit()
        later = datetime.now(UTC) + timedelta(minutes=settings.conversation_resolved_close_minutes + 1)
        async with session_factory(engine)() as session:
            report = await closure.close_conversations(session, settings, now=later)
            await session.commit()
    finally:
        await engine.dispose()
    assert report.closed == {"resolved_by_bot": 1} and report.csat_sent == 1
    assert await count(db, "automation_events", "event_type = 'conversation.closed'") == 2, "idle + resolved"
    await drain(clean_db)
    survey = sandbox_requests(sandbox)[-1]["body"]
    assert survey["to"] == "50761234567" and survey["interactive"]["type"] == "list"
    rows = survey["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == ["csat_5", "csat_4", "csat_3", "csat_2", "csat_1"]
    assert await count(db, "outbound_messages", "idempotency_key LIKE 'csat:%%'") == 1
    idle = await fetch_one(db, "SELECT status, close_reason, csat_requested_at FROM crm.conversations "
                               "WHERE status = 'closed' AND close_reason = 'inactivity'")
    assert idle["csat_requested_at"] is None

    # The customer picks "4 - Buena" from the list.
    answer = wa_text("wamid.C3", "", ts=T0 + 600)
    answer["entry"][0]["changes"][0]["value"]["messages"][0].update(
        {"type": "interactive", "interactive": {"type": "list_reply",
                                                "list_reply": {"id": "csat_4", "title": "4 - Buena"}}})
    del answer["entry"][0]["changes"][0]["value"]["messages"][0]["text"]
    await deliver(clean_db, answer)
    await drain(clean_db)
    rated = await fetch_one(db, "SELECT status, csat_score FROM crm.conversations WHERE id = %s", conversation["id"])
    assert rated == {"status": "closed", "csat_score": 4}


async def test_a_typed_digit_answers_the_bot_in_a_live_conversation_not_an_old_survey(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    await deliver(clean_db, wa_text("wamid.D1", "hola"))
    await drain(clean_db)
    await db.execute("UPDATE crm.conversations SET status = 'closed', closed_at = now(), csat_requested_at = now()")
    await deliver(clean_db, wa_text("wamid.D2", "busco laptop para programar", ts=T0 + 60))
    await drain(clean_db)
    await deliver(clean_db, wa_text("wamid.D3", "2", ts=T0 + 120))
    await drain(clean_db)
    assert await count(db, "conversations", "csat_score IS NOT NULL") == 0
    assert await count(db, "messages", "external_id = 'wamid.D3' AND conversation_id = "
                                       "(SELECT id FROM crm.conversations WHERE status <> 'closed')") == 1


async def test_a_131047_status_webhook_sends_the_template_once(clean_db: str, sandbox: str,
                                                              db: psycopg.AsyncConnection) -> None:
    """Meta accepts the send, then reports the closed window in a `failed` status: the template goes instead."""
    await load_catalog(clean_db)
    await add_number_with_template(db)
    await deliver(clean_db, wa_text("wamid.S1", "hola, tienen laptops?"))
    await drain(clean_db)
    wamid = (await fetch_one(db, "SELECT external_id FROM crm.outbound_messages"))["external_id"]
    failed = {"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages",
              "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "99"},
                        "statuses": [{"id": wamid, "status": "failed", "timestamp": str(T0 + 5),
                                      "recipient_id": "50761234567",
                                      "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}}]}]}
    await deliver(clean_db, failed)
    engine = create_engine(clean_db)
    try:
        for _ in range(2):  # the sweep runs every minute; the second run finds nothing left to do
            async with session_factory(engine)() as session:
                handled = await outbox.resend_window_failures(session)
                await session.commit()
            assert handled == (1 if _ == 0 else 0)
    finally:
        await engine.dispose()
    await drain(clean_db)
    template_sends = [r for r in sandbox_requests(sandbox) if r["body"] and r["body"].get("type") == "template"]
    assert len(template_sends) == 1 and template_sends[0]["body"]["template"]["name"] == "seguimiento"
    original = await fetch_one(db, "SELECT error_code FROM crm.outbound_messages WHERE external_id = %s", wamid)
    assert original["error_code"] == "131047"


async def test_an_opted_out_contact_gets_no_survey_and_no_follow_up(clean_db: str, sandbox: str,
                                                                   db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    await deliver(clean_db, wa_text("wamid.OUT1", "hola, tienen laptops?"))
    await drain(clean_db)
    conversation_id = (await fetch_one(db, "SELECT id FROM crm.conversations"))["id"]
    engine = create_engine(clean_db)
    try:
        async with session_factory(engine)() as session:
            conversation = await session.get(Conversation, conversation_id)
            # A survey queued while they were still subscribed, then they write STOP.
            await outbox.queue_message(session, conversation=conversation, contact_id=conversation.contact_id,
                                       key=f"csat:{conversation_id}", text_body="¿Cómo calificarías...?")
            await session.commit()
    finally:
        await engine.dispose()
    await db.execute("UPDATE crm.procrastinate_jobs SET scheduled_at = now() + interval '1 hour' "
                     "WHERE task_name = 'send_outbound' AND status = 'todo'")
    await deliver(clean_db, wa_text("wamid.OUT2", "STOP", ts=T0 + 60))
    await drain(clean_db)
    survey = await fetch_one(db, "SELECT status, error_code FROM crm.outbound_messages WHERE idempotency_key = %s",
                             f"csat:{conversation_id}")
    assert survey == {"status": "failed", "error_code": "opted_out"}
    engine = create_engine(clean_db)
    try:
        async with session_factory(engine)() as session:
            conversation = await session.get(Conversation, conversation_id)
            assert await closure.close(session, get_settings(), conversation, "resolved_by_bot") is False
            await session.commit()
    finally:
        await engine.dispose()
