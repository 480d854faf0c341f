"""The fact check on LLM drafts: grounded replies pass (the local responder's too), invented prices, stock, SKUs,
products and delivery times are caught."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from ml.nlu.entities import extract_entities
from ml.nlu.text import fold
from ml.nlu.types import IntentResult
from serving.services.chat.facts import ProductFact
from serving.services.chat.facts_check import check_draft, unsupported_figures
from serving.services.chat.responder import respond, search_text, update_state
from serving.services.chat.state import DialogueState
from tests.unit.chat.test_responder import CATALOG, POLICIES

# The spec's example store, shared with the responder tests (test_llm_reply uses it too).
DEMO = Path(__file__).resolve().parents[3] / "serving" / "demo"
FULL_POLICIES = POLICIES | {"returns": "30 días con factura", "warranty": "12 meses de fábrica",
                            "payment_methods": ["tarjeta", "Yappy", "transferencia"]}


def check(text: str, products: Sequence[str] = (), budget: int | None = 1200, customer: str = "") -> list[str]:
    allowed = [Decimal(budget)] if budget is not None else []
    return check_draft(text, list(products), CATALOG, FULL_POLICIES, allowed, customer_text=customer)


@pytest.mark.parametrize("draft", [
    ("¡Perfecto! Para desarrollo web hasta $1,200 te recomiendo:\n\n"
     "1️⃣ **Dell XPS 13** - $1,099 (Intel i7, 16GB RAM). Tenemos 3 en stock.\n"
     "2️⃣ **Lenovo ThinkPad X1** - $1,189, con 5 disponibles.\n\n¿Te gustaría más detalles de alguna?"),
    ("¡Excelente elección! La Dell es muy popular 💻 El envío Express llega en 24 a 48 horas y cuesta $15; el "
     "Estándar es gratis (3-5 días). Hacemos envíos a toda Panamá."),
    "Great choice! The Dell XPS 13 is very popular 💻 We ship in 24-48 h. Returns within 30 days with receipt.",
    "La **MacBook Pro 14** con M3 Pro y 18GB RAM está en $1,999. Tenemos 2 en stock.",
    "Los Audífonos JBL Tune 510BT (Bluetooth) cuestan $49.90 y hay 25 disponibles. Pagas con Yappy o tarjeta.",
    "La HP 15 Essential está agotada por ahora 😕 ¿Te muestro la Dell XPS 13?",
    "Ambas son ideales para VS Code, Docker y navegadores. La garantía es de 12 meses de fábrica.",
    "Apple MacBook Pro 14: la tenemos 👍",
])
def test_grounded_drafts_pass(draft: str) -> None:
    assert check(draft) == []


@pytest.mark.parametrize(("draft", "problem"), [
    ("La **Dell XPS 13** cuesta $999.", "price 999 not in the catalog"),
    ("La Dell XPS 13 cuesta USD 999.", "price 999 not in the catalog"),
    ("**Dell XPS 13** - $1,189", "price 1189 stated for Dell XPS 13"),
    ("1️⃣ **Dell XPS 13** - $1,099\n   ✅ Tenemos 5 en stock", "stock 5 stated for Dell XPS 13"),
    ("La Lenovo ThinkPad X1 tiene 8 disponibles.", "stock 8 not in the catalog"),
    ("La Dell XPS 15 cuesta $1,099.", 'product or model "Dell XPS 15" is not in the catalog'),
    ("Te recomiendo el iPhone 15 Pro.", 'product or model "iPhone 15 Pro" is not in the catalog'),
    ("La MacBook Pro 16 es ideal.", 'product or model "MacBook Pro 16" is not in the catalog'),
    ("Tenemos la HP Pavilion 15 por $549.", 'product or model "HP Pavilion 15" is not in the catalog'),
    ("La Lenovo ThinkPad X1 Carbon Gen 11 es ideal.",
     'product or model "Lenovo ThinkPad X1 Carbon Gen 11" is not in the catalog'),
    ("Pide el código DELL-XPS15 en la tienda.", "sku DELL-XPS15 is not in the catalog"),
    ("El modelo LEN-X2 llegó ayer.", "sku LEN-X2 is not in the catalog"),
    ("El Estándar tarda 2 días.", "duration 2 d is not in the policies"),
])
def test_invented_facts_are_flagged(draft: str, problem: str) -> None:
    problems = check(draft)
    assert any(p.startswith(problem) for p in problems), problems


def test_skus_listed_by_the_model_must_be_in_the_catalog() -> None:
    assert check("Te recomiendo la Dell XPS 13.", ["DELL-XPS13", "ASUS-ROG15"]) == [
        "sku ASUS-ROG15 is not in the catalog"]
    assert check("Te recomiendo la Dell XPS 13.", ["dell-xps13"]) == []


def test_codes_that_only_look_like_skus_are_left_alone() -> None:
    assert check("Carga por USB-C y tiene Wi-Fi; el Express tarda 24-48 h.") == []


def test_what_the_customer_said_may_be_repeated_back() -> None:
    assert check("¿Lo necesitas en 2 días? El Express llega en 24-48 h.", customer="lo necesito en 2 dias") == []
    assert check("No tengo opciones por $300, la más económica es la Dell XPS 13 ($1,099).", budget=300) == []


def test_unsupported_figures_keeps_its_contract() -> None:
    text = "La Dell XPS 13 cuesta $1,099 y la Lenovo ThinkPad X1 $999. Tenemos 4 en stock."
    assert unsupported_figures(text, CATALOG, POLICIES) == ["price 999 not in the catalog",
                                                            "stock 4 not in the catalog"]


def search(catalog: list[ProductFact], query: str) -> list[ProductFact]:
    """Stands in for the catalog search (tested against PostgreSQL in the integration suite)."""
    words = set(fold(query).split())
    return [p for p in catalog
            if words & set(fold(f"{p.name} {p.category} {p.description}").replace(",", " ").split())
            or ("laptop" in words and p.category == "laptops")]


def demo_catalog() -> tuple[list[ProductFact], dict]:
    with (DEMO / "catalog.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    products = [ProductFact(r["sku"], r["name"], Decimal(r["price"]), r["currency"], int(r["stock"]),
                            r["description"], r["category"], json.loads(r["attributes"] or "{}")) for r in rows]
    return products, yaml.safe_load((DEMO / "policies.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("language", "messages"), [
    ("es", ["Hola, busco una laptop para programación", "Desarrollo web, presupuesto hasta $1200",
            "Me gusta la Dell, cuánto demora el envío?"]),
    ("es", ["hola quiero un celular", "hasta 1000", "el iphone, cuanto cuesta el envio?"]),
    ("es", ["tienen tablets?", "hasta $300 para estudiar", "la samsung, cuanto demora?"]),
    ("es", ["reloj deportivo con gps", "hasta 250", "el garmin, envio a david?"]),
    ("en", ["hi, I need a laptop for work", "budget up to $800", "the Lenovo, shipping?"]),
])
def test_the_local_responders_replies_pass_the_draft_check(language: str, messages: list[str]) -> None:
    """No false alarms on the replies the fallback itself writes, on the demo catalog."""
    catalog, policies = demo_catalog()
    state = DialogueState(language=language)
    for text in messages:
        intent = IntentResult(primary_intent="product_info", confidence=0.9, entities=extract_entities(text))
        update_state(state, text, intent, language)
        reply = respond(state, text, intent, search(catalog, search_text(state)), policies)
        allowed = [state.budget_amount] if state.budget_amount is not None else []
        assert check_draft(reply.text, reply.products, catalog, policies, allowed, customer_text=text) == [], \
            reply.text
