"""A chat order confirmed by the customer becomes a draft order, its line and an opportunity in PostgreSQL: once,
at the live price, with the order number remembered by the conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.engine import create_engine, session_factory
from crm.db.models import Contact, Conversation
from ml.nlu.entities import extract_entities
from ml.nlu.types import IntentResult
from serving.schemas.catalog import ProductIn
from serving.services import catalog
from serving.services.chat.facts import ProductFact
from serving.services.chat.orders import apply_reply_action, with_selected_product
from serving.services.chat.responder import CREATE_DRAFT_ORDER, Reply, respond, search_text, update_state
from serving.services.chat.state import DialogueState
from tests.helpers import count, fetch_one

pytestmark = pytest.mark.integration

POLICIES = {"currency": "USD", "coverage": "toda Panamá", "payment_methods": ["tarjeta", "Yappy"],
            "shipping": [{"name": "Express", "price": 15, "delay": "24-48 h"},
                         {"name": "Estándar", "price": 0, "delay": "3-5 días"}]}
ORDER_TURNS = ("Hola, busco una laptop para programación", "Desarrollo web, presupuesto hasta $1200",
               "Me gusta la Dell, cuánto demora el envío?", "Sí, procésala", "2", "David", "Express", "sí")


@pytest.fixture
async def session(clean_db: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(clean_db)
    async with session_factory(engine)() as session:
        await catalog.upsert_products(session, [
            ProductIn(sku="DELL-XPS13", name="Dell XPS 13", price=Decimal(1099), stock=3, category="laptops",
                      description="Intel i7, 16GB RAM, SSD 512GB, ideal para programación y desarrollo web"),
            ProductIn(sku="LEN-X1", name="Lenovo ThinkPad X1", price=Decimal(1189), stock=5, category="laptops",
                      description="Intel i7, 16GB RAM, SSD 1TB, teclado legendario para programar"),
        ])
        await catalog.replace_policies(session, POLICIES)
        contact = Contact(display_name="Ana Pérez", language="es")
        session.add(contact)
        await session.flush()
        session.add(Conversation(contact_id=contact.id, channel="whatsapp", account_external_id="99"))
        await session.commit()
        yield session
    await engine.dispose()


async def chat_turn(session: AsyncSession, conversation: Conversation, text: str) -> Reply:
    """What the agent does with one message, minus the outbox: the state from the conversation, the live
    catalog, the pure responder, the state back on the conversation."""
    state = DialogueState.from_json(conversation.agent_state)
    intent = IntentResult(primary_intent="product_info", confidence=0.9, entities=extract_entities(text))
    update_state(state, text, intent, "es")
    found = await catalog.search_products(session, search_text(state) or text, limit=8)
    candidates = [ProductFact(p.sku, p.name, p.price, p.currency, p.stock, p.description or "", p.category,
                              p.attributes or {}) for p, _ in found]
    candidates = await with_selected_product(session, state, candidates)
    reply = respond(state, text, intent, candidates, await catalog.get_policies(session))
    conversation.agent_state = reply.state.to_json()
    return reply


async def the_conversation(session: AsyncSession) -> tuple[Contact, Conversation]:
    conversation = await session.scalar(select(Conversation))
    assert conversation is not None
    contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None
    return contact, conversation


async def confirmed_order(session: AsyncSession, conversation: Conversation) -> Reply:
    for text in ORDER_TURNS:
        reply = await chat_turn(session, conversation, text)
    assert reply.action == CREATE_DRAFT_ORDER, reply.text
    return reply


async def test_a_confirmed_chat_order_is_a_draft_with_its_line_and_opportunity_once(
    session: AsyncSession, db: psycopg.AsyncConnection
) -> None:
    contact, conversation = await the_conversation(session)
    reply = await confirmed_order(session, conversation)
    order = await apply_reply_action(session, reply, contact=contact, conversation=conversation, channel="whatsapp")
    await session.commit()
    assert order is not None and order.order_number == f"WA-{conversation.id}-1"

    row = await fetch_one(db, "SELECT * FROM crm.orders")
    assert (row["status"], row["source"], row["channel"], row["currency"]) == ("draft", "chat", "whatsapp", "USD")
    assert (row["contact_id"], row["conversation_id"]) == (contact.id, conversation.id)
    assert (row["subtotal"], row["shipping_cost"], row["total"]) == (Decimal("2198.00"), Decimal("15.00"),
                                                                     Decimal("2213.00"))
    assert (row["shipping_method"], row["shipping_city"], row["placed_at"]) == ("Express", "David", None)
    line = await fetch_one(db, "SELECT l.*, p.sku AS product_sku FROM crm.order_lines l "
                               "JOIN crm.products p ON p.id = l.product_id")
    assert (line["order_id"], line["sku"], line["product_sku"], line["name"]) == (
        order.id, "DELL-XPS13", "DELL-XPS13", "Dell XPS 13")
    assert (line["quantity"], line["unit_price"], line["line_total"]) == (2, Decimal("1099.00"), Decimal("2198.00"))
    opportunity = await fetch_one(db, "SELECT * FROM crm.opportunities")
    assert (opportunity["order_id"], opportunity["contact_id"], opportunity["conversation_id"]) == (
        order.id, contact.id, conversation.id)
    assert (opportunity["stage"], opportunity["value"], opportunity["probability"], opportunity["source"]) == (
        "proposal", Decimal("2213.00"), Decimal("0.6000"), "chat")
    assert "Dell XPS 13" in opportunity["title"]
    assert (await fetch_one(db, "SELECT stock FROM crm.products WHERE sku = 'DELL-XPS13'"))["stock"] == 3, \
        "a draft is not a sale"
    saved = await fetch_one(db, "SELECT agent_state FROM crm.conversations")
    assert saved["agent_state"]["order_number"] == order.order_number and saved["agent_state"]["order_placed"]

    again = await apply_reply_action(session, reply, contact=contact, conversation=conversation, channel="whatsapp")
    await session.commit()
    assert again is not None and again.id == order.id, "the same confirmed reply twice is one order"
    assert (await count(db, "orders"), await count(db, "order_lines"), await count(db, "opportunities")) == (1, 1, 1)

    later = await chat_turn(session, conversation, "sí")
    assert later.action is None and f"Tu pedido {order.order_number} ya está registrado" in later.text
    assert await apply_reply_action(session, later, contact=contact, conversation=conversation,
                                    channel="whatsapp") is None


@pytest.mark.parametrize(("change", "reason"), [
    ("UPDATE crm.products SET price = 1149 WHERE sku = 'DELL-XPS13'", "price"),
    ("UPDATE crm.products SET stock = 1 WHERE sku = 'DELL-XPS13'", "stock"),
    ("UPDATE crm.products SET active = false WHERE sku = 'DELL-XPS13'", "gone"),
])
async def test_a_product_changed_since_the_reply_means_no_order(
    session: AsyncSession, db: psycopg.AsyncConnection, change: str, reason: str
) -> None:
    contact, conversation = await the_conversation(session)
    reply = await confirmed_order(session, conversation)
    await db.execute(change)

    order = await apply_reply_action(session, reply, contact=contact, conversation=conversation, channel="whatsapp")
    await session.commit()
    assert order is None, reason
    assert (await count(db, "orders"), await count(db, "order_lines"), await count(db, "opportunities")) == (0, 0, 0)
    assert reply.action is None and reply.order is None and "acaba de cambiar" in reply.text, \
        "the customer is told, not thanked for an order that does not exist"
    saved = DialogueState.from_json((await fetch_one(db, "SELECT agent_state FROM crm.conversations"))["agent_state"])
    assert not saved.order_placed and saved.ordering and saved.order_number is None


async def test_after_a_price_change_the_customer_confirms_the_new_price(
    session: AsyncSession, db: psycopg.AsyncConnection
) -> None:
    contact, conversation = await the_conversation(session)
    reply = await confirmed_order(session, conversation)
    await db.execute("UPDATE crm.products SET price = 1149 WHERE sku = 'DELL-XPS13'")
    assert await apply_reply_action(session, reply, contact=contact, conversation=conversation,
                                    channel="whatsapp") is None

    summary = await chat_turn(session, conversation, "sí")
    assert summary.action is None and "2 × $1,149 = $2,298" in summary.text and "Total: $2,313" in summary.text
    placed = await chat_turn(session, conversation, "sí")
    order = await apply_reply_action(session, placed, contact=contact, conversation=conversation,
                                     channel="whatsapp")
    await session.commit()
    assert order is not None and order.total == Decimal("2313.00")
    assert (await fetch_one(db, "SELECT total FROM crm.orders"))["total"] == Decimal("2313.00")


async def test_different_details_in_the_same_conversation_get_the_next_number(
    session: AsyncSession, db: psycopg.AsyncConnection
) -> None:
    contact, conversation = await the_conversation(session)
    reply = await confirmed_order(session, conversation)
    first = await apply_reply_action(session, reply, contact=contact, conversation=conversation, channel="whatsapp")
    assert reply.order is not None
    reply.order = {**reply.order, "quantity": 1, "subtotal": Decimal("1099.00"), "total": Decimal("1114.00")}
    second = await apply_reply_action(session, reply, contact=contact, conversation=conversation,
                                      channel="whatsapp")
    await session.commit()
    assert first is not None and second is not None and first.id != second.id
    assert second.order_number == f"WA-{conversation.id}-2" and second.total == Decimal("1114.00")
    assert await count(db, "opportunities", "order_id = %s", second.id) == 1


async def test_the_chosen_product_is_added_to_the_facts_when_the_search_missed_it(
    session: AsyncSession, db: psycopg.AsyncConnection
) -> None:
    await db.execute("UPDATE crm.products SET price = 1179 WHERE sku = 'LEN-X1'")
    state = DialogueState(selected="LEN-X1")
    dell = ProductFact("DELL-XPS13", "Dell XPS 13", Decimal("1099.00"), "USD", 3)
    facts = await with_selected_product(session, state, [dell])
    assert [p.sku for p in facts] == ["DELL-XPS13", "LEN-X1"]
    assert (facts[1].price, facts[1].stock) == (Decimal("1179.00"), 5), "read live"
    assert await with_selected_product(session, DialogueState(selected="DELL-XPS13"), [dell]) == [dell]
    await db.execute("UPDATE crm.products SET active = false WHERE sku = 'LEN-X1'")
    assert await with_selected_product(session, state, [dell]) == [dell], "an inactive product is not quoted"
