"""A customer's own records the agent may cite: their latest orders and invoices."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Invoice, Order
from serving.services.chat.knowledge import CustomerHistory, InvoiceFact, OrderFact

RECENT = 3


async def customer_history(session: AsyncSession, contact_id: int) -> CustomerHistory:
    orders = (await session.scalars(select(Order).where(Order.contact_id == contact_id)
                                    .order_by(Order.placed_at.desc().nulls_last(), Order.id.desc())
                                    .limit(RECENT))).all()
    invoices = (await session.scalars(select(Invoice).where(Invoice.contact_id == contact_id)
                                      .order_by(Invoice.issued_at.desc().nulls_last(), Invoice.id.desc())
                                      .limit(RECENT))).all()
    return CustomerHistory(
        orders=[OrderFact(o.order_number, o.status, o.total, o.currency, o.placed_at, o.shipping_method,
                          o.shipping_city) for o in orders],
        invoices=[InvoiceFact(i.invoice_number, i.status, i.amount, i.currency, i.due_at) for i in invoices])
