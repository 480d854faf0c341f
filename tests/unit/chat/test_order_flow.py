"""Taking a simple order in the chat: from the recommendation to a confirmed draft, in Spanish and English, with
the stock, the coverage and the shipping options of the policies, and never two orders for one confirmation."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ml.nlu.entities import extract_entities
from ml.nlu.types import IntentResult
from serving.services.chat.facts import ProductFact
from serving.services.chat.facts_check import unsupported_figures
from serving.services.chat.responder import (
    CREATE_DRAFT_ORDER,
    Reply,
    draft_refused,
    respond,
    search_text,
    update_state,
)
from serving.services.chat.state import DialogueState
from tests.unit.chat.test_responder import CATALOG, search

POLICIES: dict[str, Any] = {
    "currency": "USD", "coverage": "toda Panamá",
    "shipping": [{"name": "Express", "price": 15, "delay": "24-48 h"},
                 {"name": "Estándar", "price": 0, "delay": "3-5 días"}],
    "payment_methods": ["tarjeta", "Yappy", "transferencia"],
}
LISTED_CITIES = {**POLICIES, "coverage": ["Ciudad de Panamá", "Colón", "David"]}
BUDGET = Decimal(1200)


class Chat:
    """One conversation, its state stored as JSON between turns as the agent stores it on the conversation."""

    def __init__(self, language: str = "es", catalog: list[ProductFact] = CATALOG,
                 policies: dict[str, Any] = POLICIES) -> None:
        self.saved = DialogueState(language=language).to_json()
        self.language, self.catalog, self.policies = language, catalog, policies
        self.replies: list[Reply] = []

    @property
    def state(self) -> DialogueState:
        return DialogueState.from_json(self.saved)

    def say(self, text: str) -> Reply:
        state = DialogueState.from_json(self.saved)
        intent = IntentResult(primary_intent="product_info", confidence=0.9, entities=extract_entities(text))
        update_state(state, text, intent, self.language)
        reply = respond(state, text, intent, search(self.catalog, search_text(state)), self.policies)
        self.saved = reply.state.to_json()
        self.replies.append(reply)
        return reply

    def grounded(self, reply: Reply) -> list[str]:
        return unsupported_figures(reply.text, self.catalog, self.policies, [*reply.allowed_amounts, BUDGET])


def spanish_chat_at_the_shipping_answer(**kwargs: Any) -> Chat:
    chat = Chat(**kwargs)
    chat.say("Hola, busco una laptop para programación")
    chat.say("Desarrollo web, presupuesto hasta $1200")
    chat.say("Me gusta la Dell, cuánto demora el envío?")
    return chat


def spanish_chat_at_the_summary(**kwargs: Any) -> Chat:
    chat = spanish_chat_at_the_shipping_answer(**kwargs)
    for text in ("Sí, procésala", "una", "David", "estandar"):
        chat.say(text)
    return chat


def test_a_spanish_customer_orders_the_laptop_step_by_step() -> None:
    chat = spanish_chat_at_the_shipping_answer()
    assert "puedo procesarte la orden" in chat.replies[-1].text

    quantity = chat.say("Sí, procésala")
    assert "¿Cuántas unidades de Dell XPS 13" in quantity.text and "Tenemos 3 en stock" in quantity.text
    assert quantity.action is None and quantity.quick_replies == ["1", "2", "3"]

    city = chat.say("una")
    assert chat.state.quantity == 1 and "ciudad" in city.text and "toda Panamá" in city.text

    shipping = chat.say("David")
    assert chat.state.city == "David"
    assert "Express (24-48 h): $15" in shipping.text and "Estándar (3-5 días): Gratis" in shipping.text
    assert shipping.quick_replies == ["Express", "Estándar"]

    summary = chat.say("estandar")  # typed without the accent
    assert chat.state.shipping == "Estándar"
    assert "Dell XPS 13: 1 × $1,099 = $1,099" in summary.text
    assert "Envío Estándar (3-5 días) a David: Gratis" in summary.text and "Total: $1,099" in summary.text
    assert "tarjeta, Yappy, transferencia" in summary.text and "¿Confirmo tu pedido?" in summary.text
    assert summary.action is None and summary.order is None, "nothing is created before the customer confirms"

    placed = chat.say("sí")
    assert placed.action == CREATE_DRAFT_ORDER
    assert placed.order == {"sku": "DELL-XPS13", "name": "Dell XPS 13", "quantity": 1,
                            "unit_price": Decimal("1099.00"), "subtotal": Decimal("1099.00"), "currency": "USD",
                            "shipping_method": "Estándar", "shipping_cost": Decimal(0), "city": "David",
                            "total": Decimal("1099.00")}
    assert "Registré tu pedido" in placed.text and "$1,099" in placed.text
    assert chat.state.order_placed
    for reply in chat.replies:
        assert chat.grounded(reply) == [], reply.text


def test_an_english_customer_taps_a_product_and_buys_two_with_express() -> None:
    chat = Chat(language="en")
    chat.say("hi, I'm looking for a laptop for programming")
    chat.say("web development, budget up to $1200")
    card = chat.say("Lenovo ThinkPad X1")  # the tapped quick reply
    assert "**Lenovo ThinkPad X1** - $1,189" in card.text and "5 in stock" in card.text
    assert card.quick_replies[0] == "Buy"

    assert "How many Lenovo ThinkPad X1" in chat.say("Buy").text
    assert "Which city" in chat.say("two").text
    assert "Which shipping" in chat.say("ship it to panama city").text
    summary = chat.say("express")
    assert chat.state.city == "Panama City"
    assert "Lenovo ThinkPad X1: 2 × $1,189 = $2,378" in summary.text
    assert "Express shipping (24-48 h) to Panama City: $15" in summary.text and "Total: $2,393" in summary.text
    assert "Shall I place the order?" in summary.text and "¿" not in summary.text
    assert summary.allowed_amounts == [Decimal("2378.00"), Decimal("2393.00")]
    assert unsupported_figures(summary.text, CATALOG, POLICIES) != [], "the totals are computed, not catalog facts"

    placed = chat.say("Yes, confirm")
    assert placed.action == CREATE_DRAFT_ORDER and placed.order is not None
    assert (placed.order["quantity"], placed.order["total"], placed.order["shipping_cost"]) == (
        2, Decimal("2393.00"), Decimal(15))
    assert "I've placed your order" in placed.text
    for reply in chat.replies:
        assert chat.grounded(reply) == [], reply.text


def test_more_than_the_stock_is_never_accepted_and_the_stock_is_offered() -> None:
    chat = spanish_chat_at_the_shipping_answer()
    chat.say("la quiero")
    too_many = chat.say("5")
    assert "solo tenemos 3 disponibles" in too_many.text and "¿Te preparo 3?" in too_many.text
    assert chat.state.quantity is None and too_many.quick_replies[0] == "3"
    assert chat.grounded(too_many) == []

    chat.say("sí")
    assert chat.state.quantity == 3
    for text in ("David", "Express"):
        chat.say(text)
    placed = chat.say("Sí, confirmar")
    assert placed.order is not None and placed.order["quantity"] == 3 and placed.order["total"] == Decimal("3312.00")


def test_a_quantity_given_early_is_checked_against_the_stock_too() -> None:
    chat = Chat()
    chat.say("busco 4 laptops para programación, presupuesto hasta $1200")
    reply = chat.say("me llevo la Dell, procésala")
    assert "solo tenemos 3 disponibles" in reply.text and chat.state.quantity is None


def test_a_city_outside_the_listed_coverage_is_refused() -> None:
    chat = spanish_chat_at_the_shipping_answer(policies=LISTED_CITIES)
    chat.say("la quiero")
    ask = chat.say("2")
    assert "Enviamos a: Ciudad de Panamá, Colón, David" in ask.text and ask.quick_replies[1] == "Colón"

    refused = chat.say("Chitré")
    assert "no enviamos a Chitré" in refused.text and chat.state.city is None
    assert chat.state.awaiting == "city"

    chat.say("a colon")  # the store's spelling wins
    assert chat.state.city == "Colón"


def test_free_text_coverage_accepts_any_city_title_cased() -> None:
    chat = spanish_chat_at_the_shipping_answer()
    chat.say("la quiero")
    chat.say("1")
    chat.say("bocas del toro")
    assert chat.state.city == "Bocas del Toro"


def test_answering_the_city_question_of_the_shipping_answer_starts_the_order() -> None:
    chat = spanish_chat_at_the_shipping_answer()
    reply = chat.say("A David")
    assert chat.state.city == "David" and chat.state.ordering
    assert "¿Cuántas unidades de Dell XPS 13" in reply.text


def test_a_repeated_confirmation_does_not_create_a_second_order() -> None:
    chat = spanish_chat_at_the_summary()
    assert chat.say("Sí, confirmar").action == CREATE_DRAFT_ORDER
    chat.saved = {**chat.saved, "order_number": "WA-7-1"}  # what orders.py stores once the draft exists

    for text in ("sí", "Sí, procésala", "la quiero"):
        again = chat.say(text)
        assert again.action is None and again.order is None
        assert "Tu pedido WA-7-1 ya está registrado" in again.text
    assert [r.action for r in chat.replies].count(CREATE_DRAFT_ORDER) == 1


def test_a_confirmation_counts_only_for_the_summary_the_customer_saw() -> None:
    chat = spanish_chat_at_the_summary()
    cheaper = [replace(p, price=Decimal("1049.00")) if p.sku == "DELL-XPS13" else p for p in CATALOG]
    chat.catalog = cheaper
    again = chat.say("sí")
    assert again.action is None, "the price moved since the summary: show it again before creating"
    assert "1 × $1,049 = $1,049" in again.text and "Total: $1,049" in again.text
    assert chat.say("sí").action == CREATE_DRAFT_ORDER


def test_the_customer_changes_the_city_at_the_summary() -> None:
    chat = spanish_chat_at_the_summary()
    which = chat.say("Cambiar algo")
    assert which.quick_replies == ["Cantidad", "Ciudad", "Envío"] and which.action is None
    assert "¿A qué ciudad" in chat.say("Ciudad").text
    summary = chat.say("Santiago")
    assert "a Santiago: Gratis" in summary.text
    placed = chat.say("dale")
    assert placed.order is not None and placed.order["city"] == "Santiago"


def test_a_new_quantity_at_the_summary_is_quoted_before_it_is_confirmed() -> None:
    chat = spanish_chat_at_the_summary()
    summary = chat.say("mejor 2 unidades")
    assert summary.action is None and "2 × $1,099 = $2,198" in summary.text
    assert chat.grounded(summary) == []


def test_cancelling_creates_nothing_and_the_bot_goes_on() -> None:
    chat = spanish_chat_at_the_summary()
    cancelled = chat.say("Cancelar")
    assert cancelled.action is None and not chat.state.ordering and not chat.state.order_placed
    assert chat.say("sí").action is None


def test_buying_before_choosing_asks_which_one() -> None:
    chat = Chat()
    chat.say("busco una laptop para programación, presupuesto hasta $1200")
    which = chat.say("la quiero")
    assert which.quick_replies == ["Dell XPS 13", "Lenovo ThinkPad X1"] and chat.state.awaiting == "product"
    asked = chat.say("Lenovo ThinkPad X1")
    assert chat.state.selected == "LEN-X1" and "¿Cuántas unidades de Lenovo ThinkPad X1" in asked.text


def test_a_product_sold_out_since_the_recommendation_is_not_ordered() -> None:
    chat = spanish_chat_at_the_shipping_answer()
    chat.catalog = [replace(p, stock=0) if p.sku == "DELL-XPS13" else p for p in CATALOG]
    reply = chat.say("la quiero")
    assert "agotado" in reply.text and "Lenovo ThinkPad X1" in reply.text and reply.action is None
    assert not chat.state.ordering


def test_looking_for_a_product_is_not_buying_one() -> None:
    chat = Chat()
    first = chat.say("Hola, quiero comprar una laptop para programación")
    assert not chat.state.ordering and first.action is None
    assert "Te recomiendo" in first.text and "¿Cuántas unidades" not in first.text


def test_the_order_waits_while_the_customer_asks_about_something_else() -> None:
    chat = spanish_chat_at_the_shipping_answer()
    chat.say("la quiero")
    aside = chat.say("¿y tienen audífonos?")
    assert "¿Cuántas unidades" not in aside.text and chat.state.ordering
    assert "¿Cuántas unidades de Dell XPS 13" in chat.say("sí, la Dell").text


def test_a_refused_draft_takes_the_order_again() -> None:
    chat = spanish_chat_at_the_summary()
    placed = chat.say("sí")
    refused = draft_refused(placed.state, "Dell XPS 13")
    assert refused.action is None and "acaba de cambiar" in refused.text
    assert not refused.state.order_placed and refused.state.ordering
    chat.saved = refused.state.to_json()
    assert chat.say("sí").action is None, "a new summary first"
    assert chat.say("sí").action == CREATE_DRAFT_ORDER


@settings(max_examples=40, deadline=None)
@given(price=st.decimals(min_value=1, max_value=5000, places=2), stock=st.integers(min_value=1, max_value=9),
       wanted=st.integers(min_value=1, max_value=12), express=st.booleans())
def test_order_replies_state_only_catalog_figures_and_their_products(price: Decimal, stock: int, wanted: int,
                                                                     express: bool) -> None:
    catalog = [ProductFact("SKU0", "Laptop Modelo0", price, "USD", stock, "portatil para trabajo", "laptops")]
    chat = Chat(catalog=catalog)
    for text in ("busco una laptop para trabajar", "me gusta la Modelo0", "la quiero", str(wanted), "sí",
                 "Colón", "Express" if express else "Estándar", "sí"):
        chat.say(text)
    placed = chat.replies[-1]
    assert placed.action == CREATE_DRAFT_ORDER and placed.order is not None
    quantity = min(wanted, stock)
    assert placed.order["quantity"] == quantity
    assert placed.order["total"] == price * quantity + (15 if express else 0)
    for reply in chat.replies:
        assert chat.grounded(reply) == [], reply.text
