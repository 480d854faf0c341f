"""The offline responder: the spec's example conversation, and no figure the catalog does not hold."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ml.nlu.entities import extract_entities
from ml.nlu.text import fold
from ml.nlu.types import IntentResult
from serving.services.chat.facts import ProductFact
from serving.services.chat.facts_check import unsupported_figures
from serving.services.chat.responder import Reply, respond, search_text, update_state
from serving.services.chat.state import DialogueState

CATALOG = [
    ProductFact("DELL-XPS13", "Dell XPS 13", Decimal("1099.00"), "USD", 3,
                "Intel i7, 16GB RAM, SSD 512GB, Pantalla 13\" Full HD", "laptops"),
    ProductFact("LEN-X1", "Lenovo ThinkPad X1", Decimal("1189.00"), "USD", 5,
                "Intel i7, 16GB RAM, SSD 1TB, Teclado legendario para programar", "laptops"),
    ProductFact("MAC-PRO", "MacBook Pro 14", Decimal("1999.00"), "USD", 2, "M3 Pro, 18GB RAM", "laptops"),
    ProductFact("HP-15", "HP 15 Essential", Decimal("549.00"), "USD", 0, "Laptop básica para oficina", "laptops"),
    ProductFact("JBL-T510", "Audífonos JBL Tune 510BT", Decimal("49.90"), "USD", 25, "Bluetooth", "audio"),
]
POLICIES = {
    "currency": "USD", "coverage": "toda Panamá",
    "shipping": [{"name": "Express", "price": 15, "delay": "24-48 h"},
                 {"name": "Estándar", "price": 0, "delay": "3-5 días"}],
}


def search(catalog: list[ProductFact], query: str) -> list[ProductFact]:
    """Stands in for the catalog search (tested against PostgreSQL in the integration suite)."""
    words = set(fold(query).split())
    return [p for p in catalog if words & set(fold(f"{p.name} {p.category} {p.description}").replace(",", " ")
                                               .split()) or "laptop" in words and p.category == "laptops"]


def turn(state: DialogueState, text: str, catalog: list[ProductFact] = CATALOG, language: str = "es") -> Reply:
    intent = IntentResult(primary_intent="product_info", confidence=0.9, entities=extract_entities(text))
    update_state(state, text, intent, language)
    return respond(state, text, intent, search(catalog, search_text(state)), POLICIES)


def test_the_spec_example_conversation() -> None:
    state = DialogueState()
    first = turn(state, "Hola, busco una laptop para programación")
    assert "presupuesto" in first.text and "?" in first.text

    second = turn(state, "Desarrollo web, presupuesto hasta $1200")
    assert "**Dell XPS 13** - $1,099" in second.text and "Tenemos 3 en stock" in second.text
    assert "**Lenovo ThinkPad X1** - $1,189" in second.text and "Tenemos 5 en stock" in second.text
    assert "MacBook" not in second.text, "over budget"
    assert "HP 15" not in second.text, "out of stock"
    assert second.products == ["DELL-XPS13", "LEN-X1"]

    third = turn(state, "Me gusta la Dell, cuánto demora el envío?")
    assert state.selected == "DELL-XPS13" and "Dell XPS 13" in third.text
    assert "Express (24-48 h): $15" in third.text and "Estándar (3-5 días): Gratis" in third.text
    assert "toda Panamá" in third.text and "ciudad" in third.text
    for reply in (first, second, third):
        assert unsupported_figures(reply.text, CATALOG, POLICIES, [Decimal(1200)]) == []


def test_english_customers_are_answered_in_english() -> None:
    state = DialogueState(language="en")
    turn(state, "hi, I'm looking for a laptop for programming", language="en")
    reply = turn(state, "web development, budget up to $1200", language="en")
    assert "I'd recommend" in reply.text and "3 in stock" in reply.text and "Tenemos" not in reply.text


def test_nothing_in_the_catalog_offers_a_person_instead_of_inventing() -> None:
    reply = turn(DialogueState(), "tienen bicicletas de montaña?")
    assert reply.action == "offer_human" and "$" not in reply.text


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.decimals(min_value=1, max_value=5000, places=2), min_size=1, max_size=6),
    stocks=st.lists(st.integers(min_value=0, max_value=40), min_size=6, max_size=6),
    budget=st.integers(min_value=1, max_value=6000),
)
def test_replies_never_state_a_price_or_stock_the_catalog_does_not_hold(prices: list[Decimal], stocks: list[int],
                                                                        budget: int) -> None:
    catalog = [ProductFact(f"SKU{i}", f"Laptop Modelo{i}", price, "USD", stocks[i], "portatil para trabajo",
                           "laptops") for i, price in enumerate(prices)]
    state = DialogueState()
    replies = [turn(state, "busco una laptop para trabajar", catalog),
               turn(state, f"presupuesto hasta ${budget}", catalog),
               turn(state, "me gusta la Modelo0, cuanto demora el envio?", catalog)]
    for reply in replies:
        assert unsupported_figures(reply.text, catalog, POLICIES, [Decimal(budget)]) == []
        budget_limit = Decimal(budget)
        for sku in reply.products:
            product = next(p for p in catalog if p.sku == sku)
            assert product.stock > 0 or sku == state.selected
            if reply is replies[1]:
                assert product.price <= budget_limit
