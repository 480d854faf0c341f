"""Commerce shapes: orders, carts and invoices a shop or an n8n workflow sends, and what the API answers.

Everything a later flow relies on is checked here, at the boundary: phones become E.164 (so the same customer
written three ways is one contact), money is never negative, totals are recomputed from the lines (a sender's
total is only compared, never trusted) and every timestamp carries its time zone.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

import phonenumbers
from pydantic import (AnyHttpUrl, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field,
                      StringConstraints, field_validator, model_validator)

# crm.settings has no phone-region setting yet: numbers written without a country code are read as Panamanian.
DEFAULT_PHONE_REGION = "PA"
MAX_ITEMS_PER_REQUEST = 500
MAX_LINES_PER_ITEM = 200
TOTAL_TOLERANCE = Decimal("0.01")
MAX_MONEY = Decimal("9999999999.99")  # numeric(12, 2)

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
# Upper-cased before the pattern is checked (StringConstraints checks its pattern first), so "usd" is USD.
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"),
                     BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Quantity = Annotated[int, Field(gt=0, le=100_000)]

OrderStatus = Literal["draft", "pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
CartStatus = Literal["open", "abandoned", "converted"]
InvoiceStatus = Literal["open", "paid", "overdue", "void"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def normalize_phone(raw: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """`6123-4567`, `+507 6123 4567` and `(507) 6123-4567` all become `+50761234567`."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number "
                         "(write it with its country code, e.g. +507 6123-4567)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class CustomerIn(BaseModel):
    """Who bought: a phone (the WhatsApp identity) and / or an email, and the name to show."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(None, max_length=40,
                              description="Any format; without a country code it is read as "
                                          f"{DEFAULT_PHONE_REGION}. Stored as E.164.")
    email: str | None = Field(None, max_length=320)
    name: ShortText | None = None

    @field_validator("phone", "email", "name", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value is not None else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _identifies_someone(self) -> Self:
        if self.phone is None and self.email is None:
            raise ValueError("a customer needs a phone or an email (or both)")
        return self

    @property
    def wa_id(self) -> str | None:
        """The phone as WhatsApp writes it: E.164 digits without the `+`."""
        return self.phone.removeprefix("+") if self.phone else None


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: ShortText | None = Field(None, description="Defaults to the catalog's name for the sku, or the sku")
    quantity: Quantity
    unit_price: Money

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.unit_price


class CartItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Quantity
    unit_price: Money

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.unit_price


def _check_total(name: str, given: Decimal | None, computed: Decimal, how: str) -> Decimal:
    """The stored figure is always the computed one; a sender's figure may only round differently."""
    if computed > MAX_MONEY:
        raise ValueError(f"{name} {computed} is too large (at most {MAX_MONEY})")
    if given is not None and abs(given - computed) > TOTAL_TOLERANCE:
        raise ValueError(f"{name} {given} does not match {how} = {computed}")
    return computed.quantize(Decimal("0.01"))


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId
    order_number: ShortText | None = Field(None, description="Shown to the customer; defaults to external_id")
    customer: CustomerIn
    status: OrderStatus = "pending"
    channel: ShortText | None = None
    currency: Currency = "USD"
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES_PER_ITEM)
    shipping_method: ShortText | None = None
    shipping_city: ShortText | None = None
    shipping_cost: Money = Decimal("0")
    subtotal: Money | None = Field(None, description="Optional: checked against the lines, then recomputed.")
    total: Money | None = Field(None, description="Optional: checked against lines + shipping, recomputed")
    placed_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _recompute_totals(self) -> Self:
        subtotal = sum((line.line_total for line in self.lines), Decimal("0"))
        self.subtotal = _check_total("subtotal", self.subtotal, subtotal, "the sum of the lines")
        self.total = _check_total("total", self.total, subtotal + self.shipping_cost,
                                  "the sum of the lines + shipping_cost")
        return self


class CartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId
    customer: CustomerIn
    status: CartStatus = "open"
    currency: Currency = "USD"
    items: list[CartItemIn] = Field(default_factory=list, max_length=MAX_LINES_PER_ITEM)
    total: Money | None = Field(None, description="Optional: checked against the items, then recomputed.")
    last_activity_at: AwareDatetime | None = None
    checkout_url: AnyHttpUrl | None = Field(None, description="Where the customer can finish the purchase.")

    @field_validator("checkout_url")
    @classmethod
    def _short_url(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and len(str(value)) > 2048:
            raise ValueError("checkout_url is longer than 2048 characters")
        return value

    @model_validator(mode="after")
    def _recompute_total(self) -> Self:
        computed = sum((item.line_total for item in self.items), Decimal("0"))
        self.total = _check_total("total", self.total, computed, "the sum of the items")
        return self


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId
    invoice_number: ShortText | None = Field(None, description="Defaults to external_id.")
    customer: CustomerIn
    order_external_id: ExternalId | None = Field(None, description="An order already sent (/commerce/orders)")
    amount: Money
    currency: Currency = "USD"
    status: InvoiceStatus = "open"
    issued_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    paid_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.issued_at and self.due_at and self.due_at < self.issued_at:
            raise ValueError(f"due_at {self.due_at.isoformat()} is before "
                             f"issued_at {self.issued_at.isoformat()}")
        if self.paid_at and self.status != "paid":
            raise ValueError(f"paid_at is set but status is {self.status!r} (use status 'paid')")
        return self


def _unique(field: str, values: list[str]) -> None:
    repeated = sorted(value for value, n in Counter(values).items() if n > 1)
    if repeated:
        raise ValueError(f"{field} must be unique within a request; repeated: {', '.join(repeated[:10])}")


class _Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: ShortText | None = Field(None, description="Who sent it (`shopify`, `n8n`...), kept on each row")


class OrderBatch(_Batch):
    orders: list[OrderIn] = Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        _unique("external_id", [o.external_id for o in self.orders])
        _unique("order_number", [o.order_number or o.external_id for o in self.orders])
        return self


class CartBatch(_Batch):
    carts: list[CartIn] = Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        _unique("external_id", [c.external_id for c in self.carts])
        return self


class InvoiceBatch(_Batch):
    invoices: list[InvoiceIn] = Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        _unique("external_id", [i.external_id for i in self.invoices])
        _unique("invoice_number", [i.invoice_number or i.external_id for i in self.invoices])
        return self


class UpsertedItem(BaseModel):
    external_id: str
    id: int
    created: bool


class CommerceUpsertResult(BaseModel):
    created: int
    updated: int = Field(description="Items that already existed (changed or not: reposting is harmless).")
    items: list[UpsertedItem]

    @classmethod
    def from_items(cls, items: list[UpsertedItem]) -> CommerceUpsertResult:
        created = sum(1 for item in items if item.created)
        return cls(created=created, updated=len(items) - created, items=items)
