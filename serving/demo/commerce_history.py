"""A year of believable shop history for the demo: orders, abandoned carts and invoices, same seed same data.

It goes through the same validation and service functions as `POST /api/v1/commerce/...`, so the demo shows
what a shop feeding the API would produce, and cart recovery, payment reminders and the sales models have
something real-looking to work on. External ids derive from the seed, so running it again upserts in place.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from faker import Faker
from sqlalchemy.ext.asyncio import AsyncSession

from serving.schemas.catalog import ProductIn
from serving.schemas.commerce import CartIn, CustomerIn, InvoiceIn, OrderIn
from serving.services import commerce
from serving.services.catalog import parse_products_csv

DEMO_DIR = Path(__file__).resolve().parent
SOURCE = "demo"
ORDERS, CARTS, CUSTOMERS = 150, 30, 60
INVOICES_PAID, INVOICES_DUE_SOON, INVOICES_OVERDUE = 18, 12, 10
PAYMENT_TERMS = timedelta(days=30)
CITIES = {"Panamá": 40, "San Miguelito": 12, "La Chorrera": 8, "Arraiján": 7, "David": 8, "Colón": 6,
          "Santiago": 5, "Chitré": 5, "Penonomé": 4, "Bocas del Toro": 2}
EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "yahoo.com", "outlook.com", "cwpanama.net")


@dataclass
class _Plan:
    """An order before it has its id: when it was placed and, if invoiced, how its invoice stands."""

    placed_at: datetime
    invoice: str | None = None  # "paid" | "due_soon" | "overdue"
    due_at: datetime | None = None


async def fill_commerce_history(session: AsyncSession, seed: int = 7,
                                now: datetime | None = None) -> dict[str, int]:
    """Upsert ~150 orders over the last 12 months, ~30 carts idle in the last 7 days and ~40 invoices (paid,
    due within a week, overdue), then commit. Returns what it sent and how many rows were new this time."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    fake = Faker("es_MX")
    fake.seed_instance(seed)
    products = parse_products_csv((DEMO_DIR / "catalog.csv").read_text(encoding="utf-8-sig"))
    shipping = _shipping_options()
    taken: set[str] = set()  # phones and emails already given out: two people never share one
    customers = _customers(fake, rng, CUSTOMERS, taken)
    # Repeat buyers: a few customers place many orders, most place one or two.
    buyer_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(customers))]

    plans = _order_plans(rng, now)
    orders = []
    for number, plan in enumerate(sorted(plans, key=lambda p: p.placed_at), start=1):
        method, cost = rng.choices(shipping, weights=[3 if price == 0 else 1 for _, price in shipping])[0]
        orders.append((plan, OrderIn(
            external_id=f"demo{seed}-order-{number:04d}",
            order_number=f"TP{seed}-{10000 + number}",
            customer=rng.choices(customers, weights=buyer_weights)[0],
            status=_order_status(rng, plan, now),
            channel=rng.choices(("whatsapp", "web", "instagram", "messenger"), weights=(5, 3, 2, 1))[0],
            lines=_lines(rng, products),
            shipping_method=method,
            shipping_cost=cost,
            shipping_city=rng.choices(list(CITIES), weights=list(CITIES.values()))[0],
            placed_at=plan.placed_at,
        )))
    stored_orders = await commerce.upsert_orders(session, [order for _, order in orders], source=SOURCE)

    invoices = [_invoice(rng, seed, number, plan, order, now)
                for number, (plan, order) in enumerate([o for o in orders if o[0].invoice], start=1)]
    stored_invoices = await commerce.upsert_invoices(session, invoices, source=SOURCE)

    leads = _customers(fake, rng, CARTS // 2, taken, email_share=0.3)  # carts left by people who never bought
    carts = [_cart(rng, seed, number, rng.choice(customers if number % 2 else leads), products, now)
             for number in range(1, CARTS + 1)]
    stored_carts = await commerce.upsert_carts(session, carts, source=SOURCE)
    await session.commit()

    stored = stored_orders + stored_invoices + stored_carts
    return {
        "orders": len(stored_orders),
        "order_lines": sum(len(order.lines) for _, order in orders),
        "carts": len(stored_carts),
        "carts_abandoned": sum(1 for cart in carts if cart.status == "abandoned"),
        "cart_items": sum(len(cart.items) for cart in carts),
        "invoices": len(stored_invoices),
        "invoices_paid": sum(1 for invoice in invoices if invoice.status == "paid"),
        "invoices_due_soon": sum(1 for invoice in invoices if invoice.status == "open"),
        "invoices_overdue": sum(1 for invoice in invoices if invoice.status == "overdue"),
        "customers": len({(o.customer.phone, o.customer.email) for _, o in orders}
                         | {(c.customer.phone, c.customer.email) for c in carts}),
        "created": sum(1 for item in stored if item.created),
    }


def _customers(fake: Faker, rng: random.Random, n: int, taken: set[str], email_share: float = 0.65
               ) -> list[CustomerIn]:
    """Panamanian mobiles (+507 6xxx-xxxx) written the ways shops write them; the API normalises them."""
    people = []
    while len(people) < n:
        local = f"6{rng.randint(0, 999):03d}{rng.randint(0, 9999):04d}"
        if local in taken:
            continue
        taken.add(local)
        first, last = fake.first_name(), fake.last_name()
        written = rng.choice((f"+507 {local[:4]}-{local[4:]}", f"{local[:4]}-{local[4:]}", f"507{local}",
                              f"+507{local}"))
        email = None
        if rng.random() < email_share:
            handle = _ascii(f"{first}.{last}").lower().replace(" ", "")
            email = f"{handle}{rng.randint(1, 99) if rng.random() < 0.5 else ''}@{rng.choice(EMAIL_DOMAINS)}"
            email = None if email in taken else email
            taken.add(email or local)
        people.append(CustomerIn(phone=written, email=email, name=f"{first} {last}"))
    return people


def _order_plans(rng: random.Random, now: datetime) -> list[_Plan]:
    """Invoiced orders are placed so their invoice (net 30) is paid, due within a week, or overdue today."""
    plans = []
    for _ in range(INVOICES_PAID):
        plans.append(_Plan(now - timedelta(days=rng.uniform(35, 330)), "paid"))
    for _ in range(INVOICES_DUE_SOON):
        due = now + timedelta(days=rng.uniform(1, 7))
        plans.append(_Plan(due - PAYMENT_TERMS, "due_soon", due))
    for _ in range(INVOICES_OVERDUE):
        due = now - timedelta(days=rng.uniform(1, 60))
        plans.append(_Plan(due - PAYMENT_TERMS, "overdue", due))
    while len(plans) < ORDERS:
        # A growing shop: more orders recently than a year ago.
        plans.append(_Plan(now - timedelta(days=365 * rng.random() ** 1.4, hours=rng.uniform(0, 12))))
    return plans


def _order_status(rng: random.Random, plan: _Plan, now: datetime) -> str:
    if plan.invoice:
        return "delivered"
    age = now - plan.placed_at
    if age < timedelta(days=2):
        return rng.choice(("pending", "paid"))
    if age < timedelta(days=7):
        return rng.choice(("paid", "shipped", "shipped"))
    return rng.choices(("delivered", "cancelled", "refunded"), weights=(85, 8, 7))[0]


def _lines(rng: random.Random, products: list[ProductIn]) -> list[dict[str, Any]]:
    """One to three products, cheaper ones more often (and sometimes two of them)."""
    weights = [1 / float(product.price) ** 0.5 for product in products]
    how_many = rng.choices((1, 2, 3), (6, 3, 1))[0]
    chosen = {p.sku: p for p in rng.choices(products, weights=weights, k=how_many)}
    return [{"sku": p.sku, "name": p.name, "unit_price": p.price,
             "quantity": rng.choices((1, 2, 3), (8, 2, 1))[0] if p.price < 100 else 1}
            for p in chosen.values()]


def _invoice(rng: random.Random, seed: int, number: int, plan: _Plan, order: OrderIn,
             now: datetime) -> InvoiceIn:
    issued = plan.placed_at
    due = plan.due_at or issued + PAYMENT_TERMS
    paid = plan.invoice == "paid"
    return InvoiceIn(
        external_id=f"demo{seed}-invoice-{number:03d}",
        invoice_number=f"FAC{seed}-{number:05d}",
        customer=order.customer,
        order_external_id=order.external_id,
        amount=order.total,
        currency=order.currency,
        status="paid" if paid else "open" if plan.invoice == "due_soon" else "overdue",
        issued_at=issued,
        due_at=due,
        paid_at=min(issued + timedelta(days=rng.uniform(0, 28)), now) if paid else None,
    )


def _cart(rng: random.Random, seed: int, number: int, customer: CustomerIn, products: list[ProductIn],
          now: datetime) -> CartIn:
    """Idle from a few minutes to a week; a cart idle for over an hour counts as abandoned."""
    idle = timedelta(hours=rng.uniform(0.25, 7 * 24))
    external_id = f"demo{seed}-cart-{number:03d}"
    items = [{k: v for k, v in line.items() if k != "name"} for line in _lines(rng, products)]
    return CartIn(external_id=external_id, customer=customer, items=items,
                  status="abandoned" if idle > timedelta(hours=1) else "open", last_activity_at=now - idle,
                  checkout_url=f"https://tienda.example.com/checkout/{external_id}")


def _shipping_options() -> list[tuple[str, Decimal]]:
    """The store's own shipping options and prices (serving/demo/policies.yaml)."""
    policies = yaml.safe_load((DEMO_DIR / "policies.yaml").read_text(encoding="utf-8"))
    return [(option["name"], Decimal(str(option["price"]))) for option in policies["shipping"]]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
