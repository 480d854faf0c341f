"""Draft orders from the chat: what the responder's `create_draft_order` action leaves in the database.

A confirmed chat order becomes a draft `Order` (one line) and an `Opportunity` linked to it, in the caller's
transaction (the one that queues the reply, so either both happen or neither). A draft is not a sale: stock is
not decremented; payment and fulfilment belong to later flows.

The responder quoted from the products searched for the turn; the draft is written only if the product's live
row still has that price and enough stock (the summary the customer confirmed must be the order they get).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, Conversation, Opportunity, Order, OrderLine, Product
from serving.services.chat.facts import ProductFact
from serving.services.chat.responder import CREATE_DRAFT_ORDER, Reply, draft_refused
from serving.services.chat.state import DialogueState
from serving.services.automation.events import raise_event

log = structlog.get_logger(__name__)

ORDER_PREFIXES = {"whatsapp": "WA", "instagram": "IG", "messenger": "FB"}
OPPORTUNITY_STAGE = "proposal"
OPPORTUNITY_PROBABILITY = Decimal("0.6")  # the customer confirmed a priced summary; payment is still to come
SOURCE = "chat"


async def apply_reply_action(session: AsyncSession, reply: Reply, *, contact: Contact, conversation: Conversation,
                             channel: str) -> Order | None:
    """Carry out the reply's `create_draft_order`: the draft order, its line and its opportunity. Returns the
    order (an existing one when this conversation already has the same draft: a retried turn creates nothing),
    or None when the reply asks for no order or the order cannot be placed.

    When the product's live price differs from the quoted one, or its stock is now short, nothing is written and
    `reply` is rewritten in place (text, quick replies, action, state) to say so and take the order again, so the
    caller sends `reply.text` as usual. Either way the dialogue state, with the order number once there is one,
    is written to `conversation.agent_state`."""
    if reply.action != CREATE_DRAFT_ORDER or not reply.order:
        return None
    details = reply.order
    # One turn at a time per conversation from here: the lookup below and the numbering must not race.
    await session.execute(select(Conversation.id).where(Conversation.id == conversation.id).with_for_update())
    order = await _same_draft(session, conversation.id, details)
    if order is None:
        product = await session.scalar(select(Product).where(Product.sku == details["sku"],
                                                             Product.active.is_(True)))
        problem = stale_quote(product, details)
        if product is None or problem is not None:
            log.warning("chat.draft_order_refused", conversation_id=conversation.id, contact_id=contact.id,
                        sku=details["sku"], reason=problem)
            _rewrite(reply, draft_refused(reply.state, str(details["name"])))
            conversation.agent_state = reply.state.to_json()
            return None
        order = await _create(session, details, product, contact=contact, conversation=conversation,
                              channel=channel)
        log.info("chat.draft_order_created", conversation_id=conversation.id, contact_id=contact.id,
                 order_id=order.id, order_number=order.order_number, sku=product.sku, total=str(order.total))
    reply.state.order_placed, reply.state.order_number = True, order.order_number
    conversation.agent_state = reply.state.to_json()
    return order


def stale_quote(product: Product | None, details: dict[str, Any]) -> str | None:
    """Why the quoted order no longer matches the live product (None: it still does)."""
    if product is None:
        return "product no longer in the catalog"
    if Decimal(product.price) != Decimal(str(details["unit_price"])) or product.currency != details["currency"]:
        return f"price changed from {details['unit_price']} to {product.price}"
    if product.stock < int(details["quantity"]):
        return f"stock {product.stock} is short of {details['quantity']}"
    return None


async def with_selected_product(session: AsyncSession, state: DialogueState,
                                candidates: list[ProductFact]) -> list[ProductFact]:
    """The candidates plus the product the customer chose, read live, when this turn's search missed it: while
    an order is taken the search words barely change, but a product absent from the facts can't be quoted (the
    responder then hands over to a person instead)."""
    if not state.selected or any(p.sku == state.selected for p in candidates):
        return candidates
    product = await session.scalar(select(Product).where(Product.sku == state.selected, Product.active.is_(True)))
    if product is None:
        return candidates
    return [*candidates, ProductFact(product.sku, product.name, product.price, product.currency, product.stock,
                                     product.description or "", product.category, product.attributes or {})]


async def _same_draft(session: AsyncSession, conversation_id: int, details: dict[str, Any]) -> Order | None:
    """This conversation's draft with exactly these details, if it was created already."""
    return await session.scalar(
        select(Order).join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.conversation_id == conversation_id, Order.status == "draft", Order.source == SOURCE,
               OrderLine.sku == details["sku"], OrderLine.quantity == int(details["quantity"]),
               Order.shipping_method == details["shipping_method"], Order.shipping_city == details["city"],
               Order.total == Decimal(str(details["total"])))
        .order_by(Order.id).limit(1)
    )


async def _create(session: AsyncSession, details: dict[str, Any], product: Product, *, contact: Contact,
                  conversation: Conversation, channel: str) -> Order:
    quantity = int(details["quantity"])
    subtotal = product.price * quantity
    shipping_cost = Decimal(str(details["shipping_cost"]))
    order = Order(order_number=await _next_number(session, channel, conversation.id), source=SOURCE,
                  contact_id=contact.id, conversation_id=conversation.id, channel=channel, status="draft",
                  currency=product.currency, subtotal=subtotal, shipping_cost=shipping_cost,
                  total=subtotal + shipping_cost, shipping_method=details["shipping_method"],
                  shipping_city=details["city"])
    session.add(order)
    await session.flush()
    session.add(OrderLine(order_id=order.id, product_id=product.id, sku=product.sku, name=product.name,
                          quantity=quantity, unit_price=product.price, line_total=subtotal))
    session.add(Opportunity(contact_id=contact.id, conversation_id=conversation.id, order_id=order.id,
                            title=f"{product.name} × {quantity}", value=order.total, currency=order.currency,
                            stage=OPPORTUNITY_STAGE, probability=OPPORTUNITY_PROBABILITY, source=SOURCE))
    await session.flush()
    await raise_event(session, "order.created", "order", order.id, {
        "order_id": order.id, "order_number": order.order_number, "contact_id": contact.id,
        "conversation_id": conversation.id, "total": str(order.total), "currency": order.currency,
        "status": order.status})
    return order


async def _next_number(session: AsyncSession, channel: str, conversation_id: int) -> str:
    """`WA-<conversation id>-<n>`: readable to the customer, unique because the conversation id is, and the
    caller holds the conversation's row lock while numbering."""
    prefix = f"{ORDER_PREFIXES.get(channel, (channel[:2] or 'CH').upper())}-{conversation_id}-"
    taken = set(await session.scalars(select(Order.order_number).where(Order.order_number.startswith(prefix))))
    n = len(taken) + 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def _rewrite(reply: Reply, replacement: Reply) -> None:
    reply.text, reply.state, reply.quick_replies = replacement.text, replacement.state, replacement.quick_replies
    reply.products, reply.action, reply.order, reply.allowed_amounts = replacement.products, None, None, []

