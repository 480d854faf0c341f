"""The offline responder: grounded answers composed from the catalog and the policies, in the customer's language.

Pure: given the dialogue state, the message, what the NLU understood and the candidate products (already searched
by the caller), it returns the reply and the next state. Every price and stock figure it writes comes from a
ProductFact or a policy, which is what the fact check (facts_check.py) verifies for any reply; the only figures it
computes (a line total, an order total) are products and sums of those, listed in `Reply.allowed_amounts`.

Taking an order: once the customer has picked a product and says they want it, the responder asks for what is
missing one piece at a time (quantity within the stock, city within the coverage, shipping option), shows a
summary, and on their "sí" returns `action="create_draft_order"` with `Reply.order`; orders.py stores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ml.nlu.text import fold
from ml.nlu.types import IntentResult
from serving.services.chat.facts import ProductFact, money
from serving.services.chat.knowledge import policy_answer
from serving.services.chat.state import (
    ORDER_STEPS,
    DialogueState,
    asks_about_shipping,
    cancels,
    coverage_cities,
    covered_city,
    field_to_change,
    is_no,
    is_yes,
    listed_city_in,
    match_shipping,
    need_words,
    read_budget,
    read_city,
    read_quantity,
    wants_to_buy,
)

MAX_OPTIONS = 2
NUMBERS = ("1️⃣", "2️⃣", "3️⃣")


@dataclass
class Reply:
    text: str
    state: DialogueState
    quick_replies: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # skus mentioned
    action: str | None = None  # e.g. "create_draft_order", "offer_human"
    # With action "create_draft_order": sku, name, quantity, unit_price, subtotal, currency, shipping_method,
    # shipping_cost, city, total (amounts as Decimal). orders.apply_reply_action stores it.
    order: dict[str, Any] | None = None
    # Amounts the text states that the responder computed from catalog and policy figures (line and order
    # totals): no single fact holds them, so the caller passes them to facts_check.unsupported_figures (and
    # check_draft) as `allowed_amounts`, with the customer's own budget.
    allowed_amounts: list[Decimal] = field(default_factory=list)


CREATE_DRAFT_ORDER = "create_draft_order"


@dataclass(frozen=True, slots=True)
class Quote:
    """What an order costs, every figure from the catalog and the policies or a product of them."""

    product: ProductFact
    quantity: int
    shipping: dict[str, Any]
    city: str

    @property
    def subtotal(self) -> Decimal:
        return self.product.price * self.quantity

    @property
    def shipping_cost(self) -> Decimal:
        return Decimal(str(self.shipping.get("price") or 0))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping_cost

    def as_order(self) -> dict[str, Any]:
        return {"sku": self.product.sku, "name": self.product.name, "quantity": self.quantity,
                "unit_price": self.product.price, "subtotal": self.subtotal, "currency": self.product.currency,
                "shipping_method": str(self.shipping["name"]), "shipping_cost": self.shipping_cost,
                "city": self.city, "total": self.total}


def update_state(state: DialogueState, text: str, intent: IntentResult, language: str) -> DialogueState:
    state.turns += 1
    state.language = language or state.language
    budget = read_budget(text, intent.entities.money)
    if budget is not None:
        state.budget = str(budget)
    if intent.entities.quantities:
        state.quantity = intent.entities.quantities[0]
    # An answer to an order question ("David", "Express") says nothing about what they look for: keeping it out
    # keeps the catalog search, and so the chosen product, where it was. A question may change the subject.
    if state.awaiting not in ORDER_STEPS or "?" in text:
        state.need = list(dict.fromkeys(state.need + need_words(text)))[-12:]
    return state


def search_text(state: DialogueState) -> str:
    """What the caller searches the catalog with: everything the customer said they want so far."""
    return " ".join(state.need)


def respond(state: DialogueState, text: str, intent: IntentResult, candidates: list[ProductFact],
            policies: dict[str, Any]) -> Reply:
    es = state.language != "en"
    asked, state.awaiting = state.awaiting, None
    if state.order_offered and asked is None:
        asked = "order_offer"  # "sí", a city or a shipping option now start the order
    state.order_offered = False
    chosen = _chosen(state, text, candidates)
    if chosen is not None:
        state.selected = chosen.sku
    if state.order_placed and (wants_to_buy(text) or (asked == "placed" and is_yes(text))):
        return _already_placed(state, es)
    ordered = _take_order(state, text, intent, candidates, policies, asked, chosen, es)
    if ordered is not None:
        return ordered
    if asks_about_shipping(text) and (state.selected or state.recommended):
        return _shipping(state, candidates, policies, es)
    knowledge = policy_answer(text, policies, es)
    about_products = bool(candidates) and intent.primary_intent in PRODUCT_INTENTS
    if knowledge is not None and not (about_products and knowledge.topic in COMBINABLE_TOPICS):
        return Reply(knowledge.text, state, action=None)
    reply = _product_reply(state, text, intent, candidates, chosen, es)
    if knowledge is None:
        return reply
    if reply.action == "offer_human":
        return Reply(knowledge.text, state)
    reply.text = f"{reply.text}\n\n{knowledge.text}"  # "¿precio del TV y envían a David?" gets both
    return reply


# Policy questions asked together with a product question are answered after the product part.
COMBINABLE_TOPICS = {"coverage", "payment"}
PRODUCT_INTENTS = {"pricing_question", "product_info", "purchase_inquiry"}


def _product_reply(state: DialogueState, text: str, intent: IntentResult, candidates: list[ProductFact],
                   chosen: ProductFact | None, es: bool) -> Reply:
    if chosen is not None:
        return _product_card(state, chosen, es)
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
        lines += _shipping_lines(options, policies, es)
    else:
        lines.append(_t(es, "Déjame confirmar las opciones de envío con el equipo.",
                        "Let me confirm the shipping options with the team."))
    coverage = _coverage_text(policies)
    if coverage:
        lines.append(_t(es, f"Hacemos envíos a {coverage}. ¿A qué ciudad la necesitas?",
                        f"We ship to {coverage}. Which city should it go to?"))
    if not state.order_placed:
        lines.append(_t(es, "Si quieres, puedo procesarte la orden ahora mismo 😊",
                        "If you like, I can place the order for you right now 😊"))
        state.order_offered = True
    return Reply("\n".join(lines), state, products=[state.selected] if state.selected else [],
                 quick_replies=[o["name"] for o in options][:3])


def _shipping_lines(options: list[dict[str, Any]], policies: dict[str, Any], es: bool) -> list[str]:
    lines = []
    for option in options:
        price = option.get("price", 0)
        cost = (_t(es, "Gratis", "Free") if not price else money(price, policies.get("currency", "USD")))
        delay = f" ({option['delay']})" if option.get("delay") else ""
        lines.append(f"• {option['name']}{delay}: {cost}")
    return lines


def _coverage_text(policies: dict[str, Any]) -> str:
    coverage = policies.get("coverage")
    return ", ".join(map(str, coverage)) if isinstance(coverage, list) else str(coverage or "")


def _payment_methods(policies: dict[str, Any]) -> str:
    methods = policies.get("payment_methods")
    return ", ".join(map(str, methods)) if isinstance(methods, list) else str(methods or "")


def _product_card(state: DialogueState, product: ProductFact, es: bool) -> Reply:
    """The product the customer just picked (by name, sku or tapping it), with the offer to order it."""
    lines = [f"**{product.name}** - {money(product.price, product.currency)}",
             *(f"   • {detail}" for detail in _details(product))]
    if product.stock <= 0:
        lines.append(_t(es, "😔 Está agotado en este momento. ¿Te muestro otra opción?",
                        "😔 It's out of stock right now. Shall I show you another option?"))
        return Reply("\n".join(lines), state, products=[product.sku])
    lines.append(_t(es, f"✅ Tenemos {product.stock} en stock", f"✅ {product.stock} in stock"))
    lines.append(_t(es, "¿Te preparo el pedido? Puedo procesarte la orden ahora mismo 😊",
                    "Shall I get your order ready? I can place it for you right now 😊"))
    state.order_offered = True
    return Reply("\n".join(lines), state, products=[product.sku],
                 quick_replies=[_t(es, "Comprar", "Buy"), _t(es, "Ver envíos", "Shipping options")])


# --- taking an order ------------------------------------------------------------------------------------------


def _take_order(state: DialogueState, text: str, intent: IntentResult, candidates: list[ProductFact],
                policies: dict[str, Any], asked: str | None, chosen: ProductFact | None, es: bool) -> Reply | None:
    """This turn's step of the order, or None when the message is about something else (an order being taken
    then waits: "la quiero" or "sí" picks it up again, with what was already given)."""
    options = [o for o in policies.get("shipping") or [] if isinstance(o, dict) and o.get("name")]
    buying, yes = wants_to_buy(text), is_yes(text)
    shipping = match_shipping(text, options) if state.ordering or asked == "order_offer" else None
    not_a_city = ({w for p in candidates for w in fold(p.name).split()}
                  | {w for o in options for w in fold(str(o["name"])).split()})
    city = listed_city_in(text, policies) or read_city(text, asked, not_a_city)
    quantity = read_quantity(text, intent.entities.quantities, loose=asked in ("quantity", "quantity_max"))
    understood = bool(quantity or shipping or city or chosen)
    if state.ordering:
        if not (asked in ORDER_STEPS or buying or yes or understood or cancels(text)):
            return None
        if "?" in text and not (understood or buying or asks_about_shipping(text)):
            return None  # a question on another subject is answered as usual
    elif (state.order_placed or not (state.selected or state.recommended)
          or not (buying or (asked == "order_offer" and (yes or shipping or city)))):
        return None
    else:
        state.ordering, state.quote = True, None
    if cancels(text):
        state.ordering, state.quote = False, None
        return Reply(_t(es, "Entendido, dejo el pedido sin procesar 👍 ¿Te ayudo con algo más?",
                        "Got it, I won't place the order 👍 Anything else I can help with?"), state)

    product = next((p for p in candidates if p.sku == state.selected), None) if state.selected else None
    if product is None and not state.selected:
        offer = [p for p in candidates if p.sku in state.recommended and p.stock > 0]
        if len(offer) > 1:
            return _which_product(state, offer, es)
        product = offer[0] if offer else None
        state.selected = product.sku if product else None
    if product is None:
        return _cannot_quote(state, es)
    if product.stock <= 0:
        return _sold_out(state, product, candidates, es)

    if asked == "quantity_max" and quantity is None and yes:
        quantity = product.stock  # "¿Te preparo 3?" "sí"
    if quantity:
        state.quantity = quantity
    if shipping is not None:
        state.shipping = str(shipping["name"])
    if city is not None:
        known = covered_city(city, policies)
        if known is None:
            return _outside_coverage(state, city, policies, es)
        state.city = known
    if not understood and not buying and (asked == "change" or (asked == "confirm" and is_no(text))):
        field_name = field_to_change(text)
        if field_name is None and asked == "confirm":
            return _ask_change(state, es)
        if field_name is not None:
            setattr(state, field_name, None)
    return _next_order_step(state, product, options, policies, asked == "confirm" and (yes or buying), es)


def _next_order_step(state: DialogueState, product: ProductFact, options: list[dict[str, Any]],
                     policies: dict[str, Any], confirmed: bool, es: bool) -> Reply:
    """Ask for the first missing piece, else show the summary, else (confirmed for the very summary shown)
    place the order."""
    if state.quantity is not None and state.quantity > product.stock:
        requested, state.quantity = state.quantity, None
        return _only_stock(state, product, requested, es)
    if state.quantity is None:
        return _ask_quantity(state, product, es)
    if state.city is None:
        return _ask_city(state, policies, es)
    option = next((o for o in options if o["name"] == state.shipping), None)
    if option is None and len(options) == 1:
        option = options[0]
        state.shipping = str(option["name"])
    if option is None:
        return _ask_shipping(state, options, policies, es) if options else _cannot_quote(state, es)
    quote = Quote(product, state.quantity, option, state.city)
    if confirmed and state.quote == _fingerprint(quote):
        return _place(state, quote, policies, es)
    return _summary(state, quote, policies, es)


def _fingerprint(quote: Quote) -> str:
    """What the customer saw in the summary: their "sí" confirms exactly this, at this total."""
    return f"{quote.product.sku}|{quote.quantity}|{quote.city}|{quote.shipping['name']}|{quote.total}"


def _which_product(state: DialogueState, offer: list[ProductFact], es: bool) -> Reply:
    state.awaiting = "product"
    lines = [_t(es, "¡Con gusto! ¿Cuál de estas quieres?", "Sure! Which one would you like?")]
    lines += [f"• {p.name} - {money(p.price, p.currency)}" for p in offer]
    return Reply("\n".join(lines), state, products=[p.sku for p in offer], quick_replies=[p.name for p in offer][:3])


def _cannot_quote(state: DialogueState, es: bool) -> Reply:
    """The chosen product is not among this turn's facts (or no shipping is set up): quoting from memory could
    state a stale price, so a person takes it from here."""
    state.ordering, state.quote = False, None
    return Reply(_t(es, "Déjame confirmar el precio y la disponibilidad con el equipo antes de tomar tu pedido. "
                        "¿Te conecto con un asesor?",
                    "Let me confirm the price and availability with the team before taking your order. Shall I "
                    "connect you with an advisor?"), state,
                 quick_replies=[_t(es, "Sí, con un asesor", "Yes, an advisor")], action="offer_human")


def _sold_out(state: DialogueState, product: ProductFact, candidates: list[ProductFact], es: bool) -> Reply:
    state.ordering, state.quote, state.selected = False, None, None
    others = [p for p in candidates if p.sku in state.recommended and p.sku != product.sku and p.stock > 0]
    text = _t(es, f"Lo siento, {product.name} está agotado en este momento 😔",
              f"Sorry, the {product.name} is out of stock right now 😔")
    if others:
        text += _t(es, f" ¿Te interesa {others[0].name}?", f" Would the {others[0].name} work for you?")
    return Reply(text, state, products=[p.sku for p in others[:1]], quick_replies=[p.name for p in others][:3])


def _ask_quantity(state: DialogueState, product: ProductFact, es: bool) -> Reply:
    state.awaiting = "quantity"
    return Reply(_t(es, f"¡Genial! 🙌 ¿Cuántas unidades de {product.name} quieres? "
                        f"Tenemos {product.stock} en stock.",
                    f"Great! 🙌 How many {product.name} would you like? We have {product.stock} in stock."),
                 state, products=[product.sku],
                 quick_replies=[str(n) for n in range(1, min(product.stock, 3) + 1)])


def _only_stock(state: DialogueState, product: ProductFact, requested: int, es: bool) -> Reply:
    """More than the stock was asked for: never accepted, the available quantity is offered instead."""
    state.awaiting = "quantity_max"
    stock = product.stock
    return Reply(_t(es, f"Pediste {requested}, pero de {product.name} solo tenemos {stock} disponibles 😅 "
                        f"¿Te preparo {stock}?",
                    f"You asked for {requested}, but the {product.name} has only {stock} available 😅 Shall I "
                    f"get {stock} ready for you?"),
                 state, products=[product.sku], quick_replies=[str(stock), _t(es, "Cancelar", "Cancel")])


def _ask_city(state: DialogueState, policies: dict[str, Any], es: bool) -> Reply:
    state.awaiting = "city"
    question = _t(es, "¿A qué ciudad enviamos tu pedido?", "Which city should we ship your order to?")
    listed, coverage = coverage_cities(policies), _coverage_text(policies)
    if listed:
        question += _t(es, f" Enviamos a: {', '.join(listed)}.", f" We ship to: {', '.join(listed)}.")
    elif coverage:
        question += _t(es, f" Hacemos envíos a {coverage}.", f" We ship to {coverage}.")
    return Reply(question, state, quick_replies=(listed or [])[:3])


def _outside_coverage(state: DialogueState, city: str, policies: dict[str, Any], es: bool) -> Reply:
    state.awaiting = "city"
    listed = coverage_cities(policies) or []
    return Reply(_t(es, f"Lo siento, por ahora no enviamos a {city} 😔 Enviamos a: {', '.join(listed)}. "
                        "¿A cuál te lo enviamos?",
                    f"Sorry, we don't ship to {city} yet 😔 We ship to: {', '.join(listed)}. Which one should it "
                    "go to?"), state, quick_replies=listed[:3])


def _ask_shipping(state: DialogueState, options: list[dict[str, Any]], policies: dict[str, Any], es: bool) -> Reply:
    state.awaiting = "shipping"
    lines = [_t(es, f"¿Qué envío prefieres para {state.city}?", f"Which shipping would you like to {state.city}?"),
             *_shipping_lines(options, policies, es)]
    return Reply("\n".join(lines), state, quick_replies=[str(o["name"]) for o in options][:3])


def _summary(state: DialogueState, quote: Quote, policies: dict[str, Any], es: bool) -> Reply:
    state.awaiting, state.quote = "confirm", _fingerprint(quote)
    product, currency = quote.product, quote.product.currency
    method, delay = quote.shipping["name"], f" ({quote.shipping['delay']})" if quote.shipping.get("delay") else ""
    cost = money(quote.shipping_cost, currency) if quote.shipping_cost else _t(es, "Gratis", "Free")
    unit, subtotal = money(product.price, currency), money(quote.subtotal, currency)
    lines = [_t(es, "📝 **Resumen de tu pedido:**", "📝 **Your order:**"),
             f"• {product.name}: {quote.quantity} × {unit} = {subtotal}",
             _t(es, f"• Envío {method}{delay} a {quote.city}: {cost}",
                f"• {method} shipping{delay} to {quote.city}: {cost}"),
             f"• **Total: {money(quote.total, currency)}**"]
    if _payment_methods(policies):
        lines.append(_t(es, f"💳 Formas de pago: {_payment_methods(policies)}",
                        f"💳 Payment methods: {_payment_methods(policies)}"))
    lines.append(_t(es, "¿Confirmo tu pedido?", "Shall I place the order?"))
    return Reply("\n".join(lines), state, products=[product.sku], allowed_amounts=[quote.subtotal, quote.total],
                 quick_replies=[_t(es, "Sí, confirmar", "Yes, confirm"), _t(es, "Cambiar algo", "Change something"),
                                _t(es, "Cancelar", "Cancel")])


def _ask_change(state: DialogueState, es: bool) -> Reply:
    state.awaiting = "change"
    return Reply(_t(es, "Claro, ¿qué quieres cambiar?", "Sure, what would you like to change?"), state,
                 quick_replies=[_t(es, "Cantidad", "Quantity"), _t(es, "Ciudad", "City"),
                                _t(es, "Envío", "Shipping")])


def _place(state: DialogueState, quote: Quote, policies: dict[str, Any], es: bool) -> Reply:
    state.order_placed, state.ordering, state.quote, state.awaiting = True, False, None, "placed"
    product, total = quote.product, money(quote.total, quote.product.currency)
    payments = f" ({_payment_methods(policies)})" if _payment_methods(policies) else ""
    text = _t(es, f"¡Listo! 🎉 Registré tu pedido: {quote.quantity} × {product.name}, envío "
                  f"{quote.shipping['name']} a {quote.city}, total {total}. Te escribimos en breve para completar "
                  f"el pago{payments}. ¡Gracias por tu compra!",
              f"Done! 🎉 I've placed your order: {quote.quantity} × {product.name}, {quote.shipping['name']} "
              f"shipping to {quote.city}, total {total}. We'll be in touch shortly to complete the "
              f"payment{payments}. Thank you!")
    return Reply(text, state, products=[product.sku], action=CREATE_DRAFT_ORDER, order=quote.as_order(),
                 allowed_amounts=[quote.subtotal, quote.total])


def _already_placed(state: DialogueState, es: bool) -> Reply:
    """A second "sí" (or "la quiero") after the draft exists: no second order; changes go through a person."""
    number = f" {state.order_number}" if state.order_number else ""
    return Reply(_t(es, f"Tu pedido{number} ya está registrado ✅ Si quieres cambiar algo, te conecto con un "
                        "asesor.",
                    f"Your order{number} is already placed ✅ If you'd like to change anything, I can connect you "
                    "with an advisor."), state,
                 quick_replies=[_t(es, "Hablar con un asesor", "Talk to an advisor")])


def draft_refused(state: DialogueState, product_name: str) -> Reply:
    """What to say when orders.py could not store the draft because the product's live price or stock no longer
    matches the summary: the order goes back to being taken, so the next "sí" shows a summary with the live
    figures (or the stock limit) before anything is created."""
    es = state.language != "en"
    state.order_placed, state.ordering, state.quote, state.awaiting = False, True, None, None
    return Reply(_t(es, f"Perdona 🙏 el precio o la disponibilidad de {product_name} acaba de cambiar y no pude "
                        "registrar tu pedido. ¿Te muestro el resumen actualizado?",
                    f"Sorry 🙏 the price or availability of the {product_name} just changed and I couldn't place "
                    "your order. Shall I show you the updated summary?"), state,
                 quick_replies=[_t(es, "Sí", "Yes"), _t(es, "Cancelar", "Cancel")])
