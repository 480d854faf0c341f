"""The offline responder: grounded answers composed from the catalog and the policies, in the customer's language.

Pure: given the dialogue state, the message, what the NLU understood and the candidate products (already searched
by the caller), it returns the reply and the next state. Every price and stock figure it writes comes from a
ProductFact or a policy, which is what the fact check (facts_check.py) verifies for any reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ml.nlu.text import fold
from ml.nlu.types import IntentResult
from serving.services.chat.facts import ProductFact, money
from serving.services.chat.state import DialogueState, asks_about_shipping, need_words, read_budget

MAX_OPTIONS = 2
NUMBERS = ("1️⃣", "2️⃣", "3️⃣")


@dataclass
class Reply:
    text: str
    state: DialogueState
    quick_replies: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # skus mentioned
    action: str | None = None  # e.g. "create_draft_order", "escalate"


def update_state(state: DialogueState, text: str, intent: IntentResult, language: str) -> DialogueState:
    state.turns += 1
    state.language = language or state.language
    budget = read_budget(text, intent.entities.money)
    if budget is not None:
        state.budget = str(budget)
    if intent.entities.quantities:
        state.quantity = intent.entities.quantities[0]
    state.need = list(dict.fromkeys(state.need + need_words(text)))[-12:]
    return state


def search_text(state: DialogueState) -> str:
    """What the caller searches the catalog with: everything the customer said they want so far."""
    return " ".join(state.need)


def respond(state: DialogueState, text: str, intent: IntentResult, candidates: list[ProductFact],
            policies: dict[str, Any]) -> Reply:
    es = state.language != "en"
    chosen = _chosen(state, text, candidates)
    if chosen is not None:
        state.selected = chosen.sku
    if asks_about_shipping(text) and (state.selected or state.recommended):
        return _shipping(state, candidates, policies, es)
    if state.selected and not state.recommended:
        state.recommended = [state.selected]
    offer = _affordable(state, candidates)
    if offer and (state.budget is not None or len(state.need) >= 3 or intent.primary_intent == "pricing_question"):
        return _recommend(state, offer, es)
    if candidates and state.budget is None:
        return _ask_needs(state, es)
    if not candidates and state.need:
        return Reply(_t(es, "Déjame revisar con el equipo: ahora mismo no tengo un producto en catálogo que "
                            "coincida con lo que buscas. ¿Te conecto con un asesor?",
                        "Let me check with the team: I don't have a product in the catalog matching that right "
                        "now. Shall I connect you with an advisor?"), state,
                     quick_replies=[_t(es, "Sí, con un asesor", "Yes, an advisor")], action="offer_human")
    return _ask_needs(state, es)


def _t(es: bool, spanish: str, english: str) -> str:
    return spanish if es else english


def _affordable(state: DialogueState, candidates: list[ProductFact]) -> list[ProductFact]:
    budget = state.budget_amount
    in_stock = [p for p in candidates if p.stock > 0 and (budget is None or p.price <= budget)]
    return sorted(in_stock, key=lambda p: p.price)[:MAX_OPTIONS] if budget is not None else in_stock[:MAX_OPTIONS]


def _chosen(state: DialogueState, text: str, candidates: list[ProductFact]) -> ProductFact | None:
    words = set(fold(text).replace(",", " ").split())
    pool = [p for p in candidates if p.sku in state.recommended] or candidates
    for product in pool:
        name_words = {w for w in fold(product.name).split() if len(w) > 2}
        if fold(product.sku) in words or (name_words & words and product.sku in state.recommended):
            return product
    return None


def _ask_needs(state: DialogueState, es: bool) -> Reply:
    topic = " ".join(state.need[:3]) or _t(es, "lo que buscas", "what you need")
    return Reply(
        _t(es, f"¡Hola! 👋 Con gusto te ayudo con {topic}. Para recomendarte la opción ideal, ¿me cuentas para qué "
               "la vas a usar y si tienes un presupuesto en mente?",
           f"Hi! 👋 Happy to help with {topic}. To recommend the right one, what will you use it for, and do you "
           "have a budget in mind?"),
        state,
        quick_replies=[_t(es, "Hasta $500", "Up to $500"), _t(es, "Hasta $1,000", "Up to $1,000"),
                       _t(es, "Sin límite", "No limit")],
    )


def _recommend(state: DialogueState, offer: list[ProductFact], es: bool) -> Reply:
    state.recommended = [p.sku for p in offer]
    range_text = (_t(es, f" hasta {money(state.budget_amount)}", f" up to {money(state.budget_amount)}")
                  if state.budget is not None else "")
    intro = (_t(es, f"¡Perfecto! Te recomiendo {'estas opciones' if len(offer) > 1 else 'esta opción'}{range_text}:",
                f"Great! I'd recommend {'these options' if len(offer) > 1 else 'this option'}{range_text}:"))
    blocks = []
    for number, product in zip(NUMBERS, offer, strict=False):
        lines = [f"{number} **{product.name}** - {money(product.price, product.currency)}"]
        for detail in _details(product):
            lines.append(f"   • {detail}")
        lines.append(_t(es, f"   ✅ Tenemos {product.stock} en stock", f"   ✅ {product.stock} in stock"))
        blocks.append("\n".join(lines))
    closing = _t(es, "¿Te gustaría más detalles de alguna?", "Would you like more details on any of them?")
    return Reply("\n\n".join([intro, *blocks, closing]), state, products=state.recommended,
                 quick_replies=[p.name for p in offer][:3])


def _details(product: ProductFact) -> list[str]:
    """Up to three facts from the description, with digits removed unless they belong to the description
    itself (the fact check allows them: they are the catalog's own words)."""
    parts = [part.strip(" .") for part in (product.description or "").replace(";", ",").split(",")]
    return [part for part in parts if part][:3]


def _shipping(state: DialogueState, candidates: list[ProductFact], policies: dict[str, Any], es: bool) -> Reply:
    selected = next((p for p in candidates if p.sku == state.selected), None)
    lines = []
    if selected is not None:
        lines.append(_t(es, f"¡Excelente elección! La {selected.name} es muy popular 💻",
                        f"Great choice! The {selected.name} is very popular 💻"))
    options = policies.get("shipping") or []
    if options:
        lines.append(_t(es, "📦 **Opciones de envío:**", "📦 **Shipping options:**"))
        for option in options:
            price = option.get("price", 0)
            cost = (_t(es, "Gratis", "Free") if not price else money(price, policies.get("currency", "USD")))
            delay = f" ({option['delay']})" if option.get("delay") else ""
            lines.append(f"• {option['name']}{delay}: {cost}")
    else:
        lines.append(_t(es, "Déjame confirmar las opciones de envío con el equipo.",
                        "Let me confirm the shipping options with the team."))
    if policies.get("coverage"):
        lines.append(_t(es, f"Hacemos envíos a {policies['coverage']}. ¿A qué ciudad la necesitas?",
                        f"We ship to {policies['coverage']}. Which city should it go to?"))
    lines.append(_t(es, "Si quieres, puedo procesarte la orden ahora mismo 😊",
                    "If you like, I can place the order for you right now 😊"))
    return Reply("\n".join(lines), state, products=[state.selected] if state.selected else [],
                 quick_replies=[o["name"] for o in options][:3])
