"""Catalog shapes: what a product looks like coming in (CSV row, JSON) and going out."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


# Upper-cased before the pattern is checked (StringConstraints checks its pattern first), so "usd" is USD.
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"),
                     BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)]

class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    description: str | None = None
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: Currency = "USD"
    stock: int = Field(0, ge=0)
    category: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    active: bool = True

    @field_validator("description", "category", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class ProductOut(ProductIn):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: int
    relevance: float | None = None


class ProductBatch(BaseModel):
    products: list[ProductIn] = Field(min_length=1, max_length=5000)


class UpsertResult(BaseModel):
    created: int
    updated: int
    skus: list[str]
