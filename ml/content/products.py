"""A catalog product as the generator sees it, read from a `crm.products` row (a dict).

The catalog has no columns for images or promotions; they live in the product's `attributes` under the keys
below (the CSV import's `attributes` JSON column), so a shop adds them without a migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# attributes keys, first match wins
IMAGE_KEYS = ("image_url", "image", "images")
COMPARE_AT_KEYS = ("compare_at_price", "regular_price")
RESTOCKED_KEY = "restocked_at"  # ISO date or datetime: when the product came back in stock


@dataclass(frozen=True)
class CatalogProduct:
    id: int
    sku: str
    name: str
    price: Decimal
    currency: str = "USD"
    stock: int = 0
    description: str | None = None
    category: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CatalogProduct:
        return cls(id=int(row["id"]), sku=str(row["sku"]), name=str(row["name"]).strip(),
                   price=Decimal(str(row["price"])), currency=str(row.get("currency") or "USD"),
                   stock=int(row.get("stock") or 0), description=row.get("description") or None,
                   category=row.get("category") or None, attributes=dict(row.get("attributes") or {}),
                   created_at=row.get("created_at"))

    @property
    def image_url(self) -> str | None:
        """The first http(s) image URL in the attributes (`image_url`, `image`, or the first of `images`)."""
        for key in IMAGE_KEYS:
            value = self.attributes.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
                return value.strip()
        return None

    @property
    def compare_at_price(self) -> Decimal | None:
        """The "was" price when it is above the current one (a promotion); None otherwise."""
        for key in COMPARE_AT_KEYS:
            value = _decimal(self.attributes.get(key))
            if value is not None:
                return value if value > self.price else None
        return None

    @property
    def discount_percent(self) -> int | None:
        was = self.compare_at_price
        if was is None:
            return None
        return int(((was - self.price) / was * 100).to_integral_value())

    @property
    def restocked_at(self) -> datetime | None:
        value = self.attributes.get(RESTOCKED_KEY)
        if not isinstance(value, str):
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def money(amount: Decimal | float, currency: str = "USD") -> str:
    """"$1,099", "$49.90": the spelling the chat agent uses (dollars and balboas with $, as in Panama)."""
    value = Decimal(str(amount))
    symbol = "$" if currency.upper() in ("USD", "PAB") else f"{currency.upper()} "
    if value == value.to_integral_value():
        return f"{symbol}{value:,.0f}"
    return f"{symbol}{value:,.2f}"


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None
