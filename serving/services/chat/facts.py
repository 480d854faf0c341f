"""What the agent may state: products with their live price and stock, and the store policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class ProductFact:
    sku: str
    name: str
    price: Decimal
    currency: str
    stock: int
    description: str = ""
    category: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def money(amount: Decimal | float | int, currency: str = "USD") -> str:
    """"$1,099", "$49.90" (dollars and balboas are written with $ in Panama)."""
    value = Decimal(str(amount))
    symbol = "$" if currency in ("USD", "PAB") else f"{currency} "
    if value == value.to_integral_value():
        return f"{symbol}{value:,.0f}"
    return f"{symbol}{value:,.2f}"
