"""Orders, carts and invoices in from a shop or a workflow: upserted by the sender's id, tied to one contact.

Reposting is harmless by design: a row is only rewritten (and its `updated_at` moved) when something in it
differs, and lines or items are only replaced when they changed, so the same body twice changes nothing and
answers the same ids. Cart recovery, payment reminders and the sales models read these rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Cart, CartItem, Contact, ContactIdentity, Invoice, Order, OrderLine, Product
from serving.schemas.commerce import (DEFAULT_PHONE_REGION, CartIn, CustomerIn, InvoiceIn, OrderIn,
                                      UpsertedItem)
from serving.services.identity import Identity, add_identity
from serving.services.automation.events import raise_event

__all__ = ["DEFAULT_PHONE_REGION", "CommerceInputError", "resolve_customer", "upsert_carts",
           "upsert_invoices", "upsert_orders"]

log = structlog.get_logger(__name__)
WHATSAPP_IDENTITY = ("whatsapp", "wa_id")


class CommerceInputError(ValueError):
    """Input that is well formed but does not fit what is stored (an unknown order, a taken number).

    `problems` has pydantic's error shape (`loc`, `msg`, `type`) so a 422 reads the same either way."""

    def __init__(self, problems: list[dict[str, Any]]):
        super().__init__("; ".join(p["msg"] for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class _Header:
    """One row to upsert and the children (lines / items) it must end up with."""

    external_id: str
    values: dict[str, Any]
    children: list[tuple[Any, ...]]


# --- contacts -----------------------------------------------------------------------------------------------


async def resolve_customer(session: AsyncSession, customer: CustomerIn,
                           seen_at: datetime | None = None) -> Contact:
    """The contact behind a phone (its WhatsApp identity) or an email, created when there is none.

    identity.py knows channel identities only, so an email matches `contacts.email`; a phone the contact
    lacked is attached as its WhatsApp identity, so the customer's first WhatsApp message finds it."""
    seen_at = seen_at or datetime.now(UTC)
    identity = Identity(*WHATSAPP_IDENTITY, customer.wa_id) if customer.wa_id else None
    await _lock(session, customer)
    contact: Contact | None = None
    owned = False
    if identity is not None:
        owner = await session.scalar(
            select(ContactIdentity.contact_id)
            .where(ContactIdentity.channel == identity.channel, ContactIdentity.kind == identity.kind,
                   ContactIdentity.external_id == identity.external_id)
        )
        if owner is not None:
            contact, owned = await session.get(Contact, owner), True
    if contact is None and customer.email:
        contact = await session.scalar(
            select(Contact).where(func.lower(Contact.email) == customer.email).order_by(Contact.id).limit(1)
        )
    if contact is None:
        contact = Contact(display_name=customer.name, phone_e164=customer.phone, email=customer.email,
                          source_channel="commerce", first_seen_at=seen_at, last_seen_at=seen_at)
        session.add(contact)
        await session.flush()
        log.info("commerce.contact_created", contact_id=contact.id, by_phone=identity is not None)
    if identity is not None and not owned:
        await add_identity(session, contact, identity)
    # Fill gaps only: what a contact already has (maybe corrected by an agent or the cleaning job) stays.
    if customer.phone and not contact.phone_e164:
        contact.phone_e164 = customer.phone
    if customer.email and not contact.email:
        contact.email = customer.email
    if customer.name and not contact.display_name:
        contact.display_name = customer.name
    return contact


async def _lock(session: AsyncSession, customer: CustomerIn) -> None:
    """The phone takes the advisory-lock key identity.resolve_contact takes, so a webhook and a shop meeting
    one new customer at once still create one contact; the email's key does the same for two shop posts."""
    keys = []
    if customer.email:
        keys.append(f"identity:email:email:{customer.email}")
    if customer.wa_id:
        keys.append(f"identity:{WHATSAPP_IDENTITY[0]}:{WHATSAPP_IDENTITY[1]}:{customer.wa_id}")
    for key in sorted(keys):
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def _contacts(session: AsyncSession, items: Sequence[tuple[CustomerIn, datetime | None]]) -> list[int]:
    """Contact ids in item order; a customer repeated within the batch is resolved once."""
    resolved: dict[tuple[str | None, str | None], int] = {}
    ids = []
    for customer, seen_at in items:
        key = (customer.phone, customer.email)
        if key not in resolved:
            resolved[key] = (await resolve_customer(session, customer, seen_at)).id
        ids.append(resolved[key])
    return ids


# --- orders, carts, invoices --------------------------------------------------------------------------------


async def upsert_orders(session: AsyncSession, orders: Sequence[OrderIn], source: str | None = None
                        ) -> list[UpsertedItem]:
    """Insert or update orders by external_id, with their lines; nothing is written if any item is refused."""
    if not orders:
        return []
    await _check_numbers_free(session, Order, Order.order_number,
                              [(o.external_id, o.order_number or o.external_id) for o in orders],
                              "orders", "order_number")
    catalog = await _products(session, {line.sku for order in orders for line in order.lines})
    contact_ids = await _contacts(session, [(o.customer, o.placed_at) for o in orders])
    headers = [
        _Header(order.external_id, {
            "external_id": order.external_id, "source": source,
            "order_number": order.order_number or order.external_id, "contact_id": contact_id,
            "channel": order.channel, "status": order.status, "currency": order.currency,
            "subtotal": order.subtotal, "shipping_cost": order.shipping_cost, "total": order.total,
            "shipping_method": order.shipping_method, "shipping_city": order.shipping_city,
            "placed_at": order.placed_at,
        }, [(line.sku, line.name or catalog.get(line.sku, (None, line.sku))[1], line.quantity,
             _money(line.unit_price), _money(line.line_total), catalog.get(line.sku, (None, None))[0])
            for line in order.lines])
        for order, contact_id in zip(orders, contact_ids, strict=True)
    ]
    items = await _upsert(session, Order, headers, OrderLine, OrderLine.order_id,
                          ("sku", "name", "quantity", "unit_price", "line_total", "product_id"))
    by_external = {header.external_id: header.values for header in headers}
    for item in items:
        if item.created:
            values = by_external[item.external_id]
            await raise_event(session, "order.created", "order", item.id, {
                "order_id": item.id, "order_number": values["order_number"], "contact_id": values["contact_id"],
                "total": str(values["total"]), "currency": values["currency"], "status": values["status"],
                "source": source})
    log.info("commerce.orders_upserted", source=source, received=len(orders),
             created=sum(1 for item in items if item.created))
    return items


async def upsert_carts(session: AsyncSession, carts: Sequence[CartIn], source: str | None = None
                       ) -> list[UpsertedItem]:
    """Insert or update carts by external_id, with their items (an emptied cart keeps no items)."""
    if not carts:
        return []
    catalog = await _products(session, {item.sku for cart in carts for item in cart.items})
    contact_ids = await _contacts(session, [(c.customer, c.last_activity_at) for c in carts])
    headers = [
        _Header(cart.external_id, {
            "external_id": cart.external_id, "source": source, "contact_id": contact_id, "status": cart.status,
            "currency": cart.currency, "total": cart.total, "last_activity_at": cart.last_activity_at,
            "checkout_url": str(cart.checkout_url) if cart.checkout_url else None,
        }, [(item.sku, item.quantity, _money(item.unit_price), catalog.get(item.sku, (None, None))[0])
            for item in cart.items])
        for cart, contact_id in zip(carts, contact_ids, strict=True)
    ]
    items = await _upsert(session, Cart, headers, CartItem, CartItem.cart_id,
                          ("sku", "quantity", "unit_price", "product_id"))
    log.info("commerce.carts_upserted", source=source, received=len(carts),
             created=sum(1 for item in items if item.created))
    return items


async def upsert_invoices(session: AsyncSession, invoices: Sequence[InvoiceIn], source: str | None = None
                          ) -> list[UpsertedItem]:
    """Insert or update invoices by external_id; `order_external_id` must name an order already stored."""
    if not invoices:
        return []
    wanted = {i.order_external_id for i in invoices if i.order_external_id}
    known = dict((await session.execute(
        select(Order.external_id, Order.id).where(Order.external_id.in_(wanted)))).all()) if wanted else {}
    unknown = [
        {"loc": ["body", "invoices", index, "order_external_id"], "type": "unknown_order",
         "msg": f"order_external_id {invoice.order_external_id!r} names no stored order "
                "(send it to POST /api/v1/commerce/orders first)"}
        for index, invoice in enumerate(invoices)
        if invoice.order_external_id and invoice.order_external_id not in known
    ]
    if unknown:
        raise CommerceInputError(unknown)
    await _check_numbers_free(session, Invoice, Invoice.invoice_number,
                              [(i.external_id, i.invoice_number or i.external_id) for i in invoices],
                              "invoices", "invoice_number")
    contact_ids = await _contacts(session, [(i.customer, i.issued_at) for i in invoices])
    headers = [
        _Header(invoice.external_id, {
            "external_id": invoice.external_id, "source": source,
            "invoice_number": invoice.invoice_number or invoice.external_id,
            "order_id": known.get(invoice.order_external_id) if invoice.order_external_id else None,
            "contact_id": contact_id, "amount": invoice.amount, "currency": invoice.currency,
            "status": invoice.status, "issued_at": invoice.issued_at, "due_at": invoice.due_at,
            "paid_at": invoice.paid_at,
        }, [])
        for invoice, contact_id in zip(invoices, contact_ids, strict=True)
    ]
    items = await _upsert(session, Invoice, headers)
    log.info("commerce.invoices_upserted", source=source, received=len(invoices),
             created=sum(1 for item in items if item.created))
    return items


# --- shared machinery ---------------------------------------------------------------------------------------


async def _upsert(session: AsyncSession, model: Any, headers: list[_Header], child: Any = None,
                  parent_column: Any = None, child_columns: tuple[str, ...] = ()) -> list[UpsertedItem]:
    """One INSERT ... ON CONFLICT (external_id) DO UPDATE for the rows, updating only rows that differ; then
    the children of every row whose children differ from what was sent are replaced."""
    table = model.__table__
    statement = insert(model).values([header.values for header in headers])
    excluded = statement.excluded
    # A later post that does not say where it came from keeps the source already recorded.
    new_values = {column: (func.coalesce(excluded[column], table.c[column]) if column == "source"
                           else excluded[column])
                  for column in headers[0].values if column != "external_id"}
    changed = or_(*(table.c[column].is_distinct_from(value) for column, value in new_values.items()))
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.external_id], set_=new_values | {"updated_at": func.now()}, where=changed,
    ).returning(table.c.external_id, text("(xmax = 0) AS inserted"))
    inserted = {external_id for external_id, was_inserted in (await session.execute(statement)).all()
                if was_inserted}
    external_ids = [header.external_id for header in headers]
    ids = dict((await session.execute(
        select(table.c.external_id, table.c.id).where(table.c.external_id.in_(external_ids)))).all())
    if child is not None:
        await _replace_children(session, model, child, parent_column, child_columns,
                                {ids[header.external_id]: header.children for header in headers},
                                created_ids={ids[e] for e in inserted})
    return [UpsertedItem(external_id=e, id=ids[e], created=e in inserted) for e in external_ids]


async def _replace_children(session: AsyncSession, model: Any, child: Any, parent_column: Any,
                            columns: tuple[str, ...], wanted: dict[int, list[tuple[Any, ...]]],
                            created_ids: set[int]) -> None:
    existing: dict[int, list[tuple[Any, ...]]] = {}
    if len(created_ids) < len(wanted):
        rows = await session.execute(
            select(parent_column, *(child.__table__.c[c] for c in columns))
            .where(parent_column.in_(set(wanted) - created_ids)).order_by(parent_column, child.id))
        for parent_id, *values in rows:
            existing.setdefault(parent_id, []).append(tuple(values))
    stale = [parent_id for parent_id, children in wanted.items() if existing.get(parent_id, []) != children]
    if not stale:
        return
    replaced = [parent_id for parent_id in stale if parent_id not in created_ids]
    if replaced:
        await session.execute(delete(child).where(parent_column.in_(replaced)))
        # New lines are a change of the order even when its header is the same.
        await session.execute(update(model).where(model.id.in_(replaced)).values(updated_at=func.now()))
    rows = [{parent_column.key: parent_id, **dict(zip(columns, values, strict=True))}
            for parent_id in stale for values in wanted[parent_id]]
    if rows:
        await session.execute(insert(child), rows)


async def _products(session: AsyncSession, skus: set[str]) -> dict[str, tuple[int, str]]:
    """Catalog id and name per sku; an sku the catalog lacks is still accepted (product_id stays empty)."""
    if not skus:
        return {}
    rows = await session.execute(select(Product.sku, Product.id, Product.name).where(Product.sku.in_(skus)))
    return {sku: (product_id, name) for sku, product_id, name in rows}


async def _check_numbers_free(session: AsyncSession, model: Any, number_column: Any,
                              wanted: list[tuple[str, str]], collection: str, field: str) -> None:
    """A number (order / invoice) shown to customers is unique: refuse one another row already carries."""
    taken = dict((await session.execute(
        select(number_column, model.external_id).where(number_column.in_({n for _, n in wanted})))).all())
    problems = [
        {"loc": ["body", collection, index, field], "type": "number_taken",
         "msg": f"{field} {number!r} already belongs to another {collection[:-1]} "
                f"(external_id {taken[number]!r})"}
        for index, (external_id, number) in enumerate(wanted)
        if number in taken and taken[number] != external_id
    ]
    if problems:
        raise CommerceInputError(problems)


def _money(value: Decimal) -> Decimal:
    """Quantised like numeric(12, 2) returns it, so comparing sent lines with stored ones is exact."""
    return value.quantize(Decimal("0.01"))
