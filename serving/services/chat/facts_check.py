"""The validator every reply passes: each money amount and stock figure it states must be one the catalog or the
policies hold. An LLM draft that fails is regenerated or replaced by the local responder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from serving.services.chat.facts import ProductFact

PRICE = re.compile(r"(?:US)?\$\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)")
STOCK = re.compile(r"(\d+)\s+(?:en stock|in stock|disponibles?|available|unidades disponibles)", re.IGNORECASE)


def stated_prices(text: str) -> set[Decimal]:
    return {Decimal(m.group(1).replace(",", "")) for m in PRICE.finditer(text)}


def stated_stock(text: str) -> set[int]:
    return {int(m.group(1)) for m in STOCK.finditer(text)}


def unsupported_figures(text: str, products: Sequence[ProductFact], policies: dict[str, Any],
                        allowed_amounts: Sequence[Decimal] = ()) -> list[str]:
    """The figures in `text` that no fact supports (empty means the reply is grounded). Budgets the customer
    stated themselves can be passed as `allowed_amounts`."""
    prices = {p.price for p in products} | {Decimal(str(o.get("price", 0))) for o in policies.get("shipping") or []}
    prices |= set(allowed_amounts)
    stocks = {p.stock for p in products}
    problems = [f"price {money_text} not in the catalog" for money_text in
                sorted(str(a) for a in stated_prices(text) if a not in prices)]
    problems += [f"stock {n} not in the catalog" for n in sorted(stated_stock(text) - stocks)]
    return problems
