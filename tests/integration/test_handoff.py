"""Escalation end to end: the worker opens a ticket, assigns the least-loaded agent, pauses the bot and tells the
customer; the agent API claims, replies through the outbox, hands back and closes with a CSAT question."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from tests.helpers import T0, add_api_key, api_client, count, fetch_one, make_settings
from tests.integration.test_outbox import load_catalog, sandbox_requests
from tests.integration.test_worker import deliver, drain, ig_text, wa_text

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("graph_sandbox")]


@pytest.fixture
def sandbox(graph_sandbox: str) -> str:
    httpx.delete(f"{graph_sandbox}/_sandbox/messages")
    return graph_sandbox


def sent_texts(url: str) -> list[str]:
    texts = []
    for request in sandbox_requests(url):
        body = request["body"]
        message = body.get("message") or body
        texts.append(message.get("text", {}).get("body") if isinstance(message.get("text"), dict)
                     else message.get("text") or (body.get("interactive") or {}).get("body", {}).get("text", ""))
    return texts


async def add_agent(db: psycopg.AsyncConnection, name: str, department: str, capacity: int = 5,
                    available: bool = True) -> int:
    cursor = await db.execute("INSERT INTO crm.agents (name, department, capacity, available) VALUES (%s, %s, %s, %s)"
                              " RETURNING id", (name, department, capacity, available))
    return (await cursor.fetchone())[0]


async def agent_key(db: psycopg.AsyncConnection, agent_id: int) -> dict[str, str]:
    headers = await add_api_key(db, "agent")
    await db.execute("UPDATE crm.api_keys SET agent_id = %s WHERE id = (SELECT max(id) FROM crm.api_keys)",
                     (agent_id,))
    return headers


async def test_asking_for_a_person_opens_a_ticket_assigns_the_least_loaded_agent_and_pauses_the_bot(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    busy = await add_agent(db, "Carla Díaz", "sales_team")
    free = await add_agent(db, "Luis Gómez", "sales_team")
    await add_agent(db, "Away Agent", "sales_team", available=False)
    await add_agent(db, "Support Person", "support_team")
    # One of them already has a ticket of another customer (asking for a person while shopping: sales).
    await deliver(clean_db, wa_text("wamid.OTHER", "quiero hablar con una persona", wa_id="50760000009", user_id="PA.999"))
    await drain(clean_db)
    first = await fetch_one(db, "SELECT agent_id FROM crm.tickets")
    assert first["agent_id"] in (busy, free)

    await deliver(clean_db, wa_text("wamid.H1", "Hola, quiero hablar con un asesor por favor"))
    await drain(clean_db)
    ticket = await fetch_one(db, "SELECT t.*, c.bot_paused, c.status AS conversation_status FROM crm.tickets t "
                                 "JOIN crm.conversations c ON c.id = t.conversation_id "
                                 "JOIN crm.contact_identities i ON i.contact_id = t.contact_id "
                                 "WHERE i.external_id = '50761234567'")
    assert ticket["department"] == "sales_team" and "customer_asked_for_human" in ticket["reasons"]
    assert ticket["agent_id"] != first["agent_id"], "the least-loaded agent gets the new ticket"
    assert ticket["status"] == "assigned" and ticket["bot_paused"] and ticket["conversation_status"] == "human"
    assert "Hola, quiero hablar con un asesor" in ticket["summary"]
    notices = [t for t in sent_texts(sandbox) if "Te comunico con" in t]
    assert len(notices) == 2 and any(("Luis" in t) or ("Carla" in t) for t in notices)
    assert await count(db, "automation_events", "event_type = 'conversation.escalated'") == 2

    # The bot stays silent while a person has the conversation.
    before = len(sandbox_requests(sandbox))
    await deliver(clean_db, wa_text("wamid.H2", "hola? tienen laptops?", ts=T0 + 60))
    await drain(clean_db)
    assert len(sandbox_requests(sandbox)) == before
    assert await count(db, "tickets") == 2, "one live ticket per conversation"


async def test_nobody_available_leaves_the_ticket_open_and_the_customer_told_someone_will_answer(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    await deliver(clean_db, wa_text("wamid.L1", "voy a poner una denuncia en acodeco por este fraude"))
    await drain(clean_db)
    ticket = await fetch_one(db, "SELECT * FROM crm.tickets")
    assert ticket["status"] == "open" and ticket["agent_id"] is None and ticket["priority"] == 5
    assert "legal_or_compliance" in ticket["reasons"]
    assert any("una persona de nuestro equipo" in t for t in sent_texts(sandbox))


async def test_the_agent_api_claims_replies_hands_back_and_closes(clean_db: str, sandbox: str,
                                                                  db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    agent_id = await add_agent(db, "Ana Ruiz", "sales_team")
    other_id = await add_agent(db, "Otro Agente", "sales_team")
    await deliver(clean_db, ig_text("aWdf-1", "IGUSER1", "hola, tienen laptops para programar?"))
    await drain(clean_db)
    conversation = await fetch_one(db, "SELECT id, status FROM crm.conversations")
    cid = conversation["id"]
    headers = await agent_key(db, agent_id)
    other = await agent_key(db, other_id)
    reader = await add_api_key(db, "read")
    async with api_client(make_settings(clean_db)) as client:
        listed = (await client.get("/api/v1/conversations", params={"status": "open"}, headers=reader)).json()
        assert [c["id"] for c in listed] == [cid] and listed[0]["window_open"]
        assert (await client.post(f"/api/v1/conversations/{cid}/claim", headers=reader)).status_code == 403

        claimed = await client.post(f"/api/v1/conversations/{cid}/claim", headers=headers)
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["status"] == "human" and claimed.json()["bot_paused"]
        taken = await client.post(f"/api/v1/conversations/{cid}/claim", headers=other)
        assert taken.status_code == 409

        reply = {"text": "Hola, soy Ana. Te ayudo con la laptop."}
        sent = await client.post(f"/api/v1/conversations/{cid}/messages", json=reply,
                                 headers={**headers, "Idempotency-Key": "abc"})
        again = await client.post(f"/api/v1/conversations/{cid}/messages", json=reply,
                                  headers={**headers, "Idempotency-Key": "abc"})
        assert sent.status_code == 202 and again.json()["duplicate"] and again.json()["outbound_id"] == \
            sent.json()["outbound_id"]
        await drain(clean_db)
        assert sum("soy Ana" in t for t in sent_texts(sandbox)) == 1

        # The customer writes while the person has it: no bot reply.
        before = len(sandbox_requests(sandbox))
        await deliver(clean_db, ig_text("aWdf-2", "IGUSER1", "ok, y cuanto cuesta?", ts=(T0 + 60) * 1000))
        await drain(clean_db)
        assert len(sandbox_requests(sandbox)) == before

        back = await client.post(f"/api/v1/conversations/{cid}/handback", headers=headers,
                                 json={"note": "precio enviado"})
        assert back.json()["status"] == "open" and not back.json()["bot_paused"]
        assert back.json()["ticket"]["status"] == "resolved"
        await deliver(clean_db, ig_text("aWdf-3", "IGUSER1", "busco laptop para programar, hasta $1200",
                                        ts=(T0 + 120) * 1000))
        await drain(clean_db)
        assert len(sandbox_requests(sandbox)) == before + 1, "the bot answers again after the handback"

        closed = await client.post(f"/api/v1/conversations/{cid}/close", headers=headers)
        assert closed.json()["status"] == "closed" and closed.json()["close_reason"] == "resolved_by_agent"
        await drain(clean_db)
        csat = sandbox_requests(sandbox)[-1]["body"]
        assert [q["payload"] for q in csat["message"]["quick_replies"]] == [f"csat_{n}" for n in (5, 4, 3, 2, 1)]
        assert (await client.post(f"/api/v1/conversations/{cid}/close", headers=headers)).status_code == 409

    # The customer taps "4": stored on the closed conversation, no new conversation opened.
    rating = ig_text("aWdf-4", "IGUSER1", "4 - Good", ts=(T0 + 300) * 1000)
    rating["entry"][0]["messaging"][0]["message"]["quick_reply"] = {"payload": "csat_4"}
    await deliver(clean_db, rating)
    await drain(clean_db)
    assert (await fetch_one(db, "SELECT csat_score FROM crm.conversations WHERE id = %s", cid))["csat_score"] == 4
    assert await count(db, "conversations") == 1


async def test_agent_text_outside_the_window_is_refused_with_a_clear_error(clean_db: str, sandbox: str,
                                                                        db: psycopg.AsyncConnection) -> None:
    agent_id = await add_agent(db, "Ana Ruiz", "support_team")
    await deliver(clean_db, wa_text("wamid.OLD", "hola", ts=T0 - 3 * 86400))
    await drain(clean_db)
    cid = (await fetch_one(db, "SELECT id FROM crm.conversations"))["id"]
    headers = await agent_key(db, agent_id)
    async with api_client(make_settings(clean_db)) as client:
        late = await client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "hola!"}, headers=headers)
        assert late.status_code == 409 and "24-hour" in late.json()["detail"]
        unknown = await client.post(f"/api/v1/conversations/{cid}/messages", headers=headers,
                                    json={"template": {"name": "seguimiento", "language": "es", "parameters": ["x"]}})
        assert unknown.status_code == 422 and "templates sync" in unknown.json()["detail"]
        both = await client.post(f"/api/v1/conversations/{cid}/messages", headers=headers,
                                 json={"text": "hola", "template": {"name": "x"}})
        assert both.status_code == 422


async def test_a_late_order_is_answered_from_the_customers_records_and_handed_to_support(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    await add_agent(db, "Marta Quintero", "support_team")
    await deliver(clean_db, wa_text("wamid.K1", "hola"))
    await drain(clean_db)
    contact_id = (await fetch_one(db, "SELECT id FROM crm.contacts"))["id"]
    await db.execute("INSERT INTO crm.orders (order_number, contact_id, status, total, currency, shipping_method, "
                     "shipping_city, placed_at) VALUES ('WEB-1001', %s, 'shipped', 1114, 'USD', 'Express', 'David', "
                     "now() - interval '5 days')", (contact_id,))
    await deliver(clean_db, wa_text("wamid.K2", "mi pedido no ha llegado y ya pasaron 5 dias", ts=T0 + 60))
    await drain(clean_db)
    texts = sent_texts(sandbox)
    assert "Tu pedido WEB-1001" in texts[-2] and "$1,114" in texts[-2] and "enviado" in texts[-2]
    assert texts[-1].startswith("Te comunico con Marta"), "the promised follow-up is a ticket, announced after"
    ticket = await fetch_one(db, "SELECT department, reasons FROM crm.tickets")
    assert ticket == {"department": "support_team", "reasons": ["order_follow_up"]}


async def test_agent_keys_act_only_for_their_agent_and_only_on_their_conversations(
        clean_db: str, sandbox: str, db: psycopg.AsyncConnection) -> None:
    ana, luis = await add_agent(db, "Ana Ruiz", "sales_team"), await add_agent(db, "Luis Gómez", "sales_team")
    await deliver(clean_db, ig_text("aWdf-A", "IGA", "hola, tienen laptops?"),
                  ig_text("aWdf-B", "IGB", "hola, tienen tablets?"))
    await drain(clean_db)
    first, second = [r[0] for r in await (await db.execute("SELECT id FROM crm.conversations ORDER BY id")).fetchall()]
    unbound = await add_api_key(db, "agent")
    admin = await add_api_key(db, "admin")
    ana_key, luis_key = await agent_key(db, ana), await agent_key(db, luis)
    async with api_client(make_settings(clean_db)) as client:
        posing = await client.post(f"/api/v1/conversations/{first}/claim", params={"agent_id": luis}, headers=unbound)
        assert posing.status_code == 403, "a key bound to no agent cannot act as one"
        other = await client.post(f"/api/v1/conversations/{first}/claim", params={"agent_id": luis}, headers=ana_key)
        assert other.status_code == 403
        as_admin = await client.post(f"/api/v1/conversations/{first}/claim", params={"agent_id": ana}, headers=admin)
        assert as_admin.status_code == 200 and as_admin.json()["assigned_agent"] == "Ana Ruiz"
        assert (await client.post(f"/api/v1/conversations/{first}/handback", headers=luis_key)).status_code == 409
        assert (await client.post(f"/api/v1/conversations/{first}/close", headers=luis_key)).status_code == 409
        # The same Idempotency-Key on two conversations is two messages.
        for cid in (first, second):
            headers = {**(ana_key if cid == first else luis_key), "Idempotency-Key": "1"}
            sent = await client.post(f"/api/v1/conversations/{cid}/messages", json={"text": f"hola {cid}"},
                                     headers=headers)
            assert sent.status_code == 202 and not sent.json()["duplicate"]
        huge = await client.post("/api/v1/conversations/99999999999999999999/claim", headers=ana_key)
        assert huge.status_code == 422
    await drain(clean_db)
    assert await count(db, "outbound_messages", "idempotency_key LIKE 'agent:%%'") == 2


async def test_a_handback_is_not_undone_by_what_the_agent_already_saw(clean_db: str, sandbox: str,
                                                                      db: psycopg.AsyncConnection) -> None:
    await load_catalog(clean_db)
    agent_id = await add_agent(db, "Ana Ruiz", "sales_team")
    await deliver(clean_db, wa_text("wamid.V0", "hola"))
    await drain(clean_db)
    await db.execute("UPDATE crm.contacts SET attributes = '{\"tier\": \"vip\"}'")
    await deliver(clean_db, wa_text("wamid.V1", "busco laptop para programar", ts=T0 + 30))
    await drain(clean_db)
    ticket = await fetch_one(db, "SELECT conversation_id, reasons FROM crm.tickets")
    assert ticket["reasons"] == ["vip_customer"]
    headers = await agent_key(db, agent_id)
    async with api_client(make_settings(clean_db)) as client:
        back = await client.post(f"/api/v1/conversations/{ticket['conversation_id']}/handback", headers=headers)
        assert back.status_code == 200
    before = len(sandbox_requests(sandbox))
    await deliver(clean_db, wa_text("wamid.V2", "hasta $1200", ts=T0 + 90))
    await drain(clean_db)
    assert await count(db, "tickets") == 1, "the VIP was handed back on purpose: no second ticket"
    assert len(sandbox_requests(sandbox)) == before + 1
    await deliver(clean_db, wa_text("wamid.V3", "mejor quiero hablar con una persona", ts=T0 + 150))
    await drain(clean_db)
    assert await count(db, "tickets") == 2, "a new request for a person still escalates"
