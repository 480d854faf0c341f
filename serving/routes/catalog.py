"""The catalog over HTTP: bulk upsert for shops and workflows, search and policies for anyone with a key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from serving.deps import ReadKey, SessionDep, require_scope
from serving.schemas.catalog import ProductBatch, ProductOut, UpsertResult
from serving.services import catalog

router = APIRouter(prefix="/catalog", tags=["catalog"])
CommerceKey = Annotated[object, Depends(require_scope("commerce"))]


@router.post("/products", response_model=UpsertResult)
async def upsert_products(body: ProductBatch, session: SessionDep, _: CommerceKey) -> UpsertResult:
    """Insert or update products by sku (all or nothing: an invalid item fails the request with a 422)."""
    counts = await catalog.upsert_products(session, body.products)
    await session.commit()
    return UpsertResult(created=counts.created, updated=counts.updated, skus=counts.skus)


@router.get("/products", response_model=list[ProductOut])
async def search_products(session: SessionDep, _: ReadKey, q: str = Query(..., min_length=1, max_length=300),
                          limit: int = Query(5, ge=1, le=50), in_stock: bool = False) -> list[ProductOut]:
    found = await catalog.search_products(session, q, limit, in_stock_only=in_stock)
    return [ProductOut.model_validate(product).model_copy(update={"relevance": round(score, 4)})
            for product, score in found]


@router.get("/policies")
async def policies(session: SessionDep, _: ReadKey) -> dict[str, Any]:
    return await catalog.get_policies(session)
