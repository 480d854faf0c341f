"""Entities and language on chat-style Spanish and English."""

from __future__ import annotations

from datetime import datetime

import pytest

from ml.nlu.entities import CatalogProduct, extract_entities
from ml.nlu.language import detect_language

CATALOG = [CatalogProduct("IPH15-128", "iPhone 15 128GB"), CatalogProduct("JBL-T510", "Audifonos JBL Tune 510"),
           CatalogProduct("TV55", "Smart TV Samsung 55 pulgadas")]
NOW = datetime(2026, 11, 25, 12, 0)


@pytest.mark.parametrize(("text", "language"), [
    ("hola buenas, tienen el iphone?", "es"), ("q precio tiene xfa", "es"), ("precio?", "es"),
    ("how much is the jbl speaker", "en"), ("pls send me the payment link asap", "en"),
    ("Bonjour, je voudrais commander deux chaises", "fr"),
])
def test_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_products_quantities_money_and_payment() -> None:
    e = extract_entities("quiero 2 iphone 15 y dos audifonos jbl, pago $1,250.50 o B/. 30", CATALOG, NOW)
    assert e.products == ["IPH15-128", "JBL-T510"]
    assert 2 in e.quantities
    assert {"amount": 1250.5, "currency": "USD"} in e.money and {"amount": 30.0, "currency": "PAB"} in e.money


def test_without_a_catalog_no_product_is_invented() -> None:
    assert extract_entities("quiero 2 iphone 15", [], NOW).products == []


def test_orders_emails_phones_are_told_apart() -> None:
    e = extract_entities("mi pedido #A1023 no llega, escribanme a ana.perez@mail.com o al +507 6123-4567", [], NOW)
    assert e.order_numbers == ["A1023"] and e.emails == ["ana.perez@mail.com"] and e.phones == ["+507 6123-4567"]
    assert e.quantities == []


def test_dates_and_urgency_in_both_languages() -> None:
    es = extract_entities("lo necesito para mañana urgente", [], NOW)
    assert es.dates == [{"text": "mañana", "date": "2026-11-26"}] and "urgente" in es.urgency_words
    en = extract_entities("can it arrive by Friday? it's urgent", [], NOW)
    assert en.dates and en.dates[0]["date"] == "2026-11-27" and "urgent" in en.urgency_words


def test_durations_are_not_quantities() -> None:
    assert extract_entities("hace 3 dias pedi 5 unidades", [], NOW).quantities == [5]


@pytest.mark.parametrize(("text", "quantities", "orders", "phones"), [
    ("I'd like to order 200 units", [200], [], []),
    ("quiero hacer un pedido 300 cajas", [300], [], []),
    ("lo quiero para el 15 de diciembre", [], [], []),
    ("quiero comprar el iphone 15 hoy mismo", [], [], []),
    ("somos una empresa con 2 años de garantia", [], [], []),
    ("mi guia #PA-12345678 no aparece", [], ["PA-12345678"], []),
    ("cuesta 1.500.000 pesos, entrega 2026-12-15", [], [], []),
    ("order 45891 was supposed to arrive", [], ["45891"], []),
])
def test_numbers_are_not_mistaken_for_one_another(text: str, quantities: list[int], orders: list[str],
                                                  phones: list[str]) -> None:
    entities = extract_entities(text, [], NOW)
    assert (entities.quantities, entities.order_numbers, entities.phones) == (quantities, orders, phones)


def test_a_flood_of_digits_or_letters_is_handled_at_once() -> None:
    """Bounded patterns: a 16,000-character field must not hang the analysis (no timing asserted, the test
    simply finishes; before the fix the email pattern alone took over a second per call)."""
    for text in ("1" * 16_000, "a" * 16_000 + "@", "x@" * 8_000):
        extract_entities(text, [], NOW)
