"""Commerce data in: orders, abandoned carts and due invoices from a shop or an n8n workflow (commerce scope).

Each route takes a batch (up to 500), upserts it by the sender's external_id and answers every item's id; a
refused item refuses the whole batch with a 422 that names it, so a sender can fix and resend it as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from serving.deps import SessionDep, require_scope
from serving.schemas.commerce import CartBatch, CommerceUpsertResult, InvoiceBatch, OrderBatch, UpsertedItem
from serving.services import commerce

router = APIRouter(prefix="/commerce", tags=["commerce"])
CommerceKey = Annotated[object, Depends(require_scope("commerce"))]


@router.post("/orders", response_model=CommerceUpsertResult)
async def upsert_orders(body: OrderBatch, session: SessionDep, _: CommerceKey) -> CommerceUpsertResult:
    """Insert or update orders by external_id; lines are replaced and totals recomputed from them."""
    return await _store(session, commerce.upsert_orders, body.orders, body.source)


@router.post("/carts", response_model=CommerceUpsertResult)
async def upsert_carts(body: CartBatch, session: SessionDep, _: CommerceKey) -> CommerceUpsertResult:
    """Insert or update carts by external_id (status `open`, `abandoned` or `converted`), items replaced."""
    return await _store(session, commerce.upsert_carts, body.carts, body.source)


@router.post("/invoices", response_model=CommerceUpsertResult)
async def upsert_invoices(body: InvoiceBatch, session: SessionDep, _: CommerceKey) -> CommerceUpsertResult:
    """Insert or update invoices by external_id; `order_external_id` links one to an order already sent."""
    return await _store(session, commerce.upsert_invoices, body.invoices, body.source)


async def _store(session: SessionDep, upsert: Callable[..., Awaitable[list[UpsertedItem]]],
                 items: Sequence[Any], source: str | None) -> CommerceUpsertResult:
    try:
        stored = await upsert(session, items, source=source)
    except commerce.CommerceInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.problems) from exc
    await session.commit()
    return CommerceUpsertResult.from_items(stored)
