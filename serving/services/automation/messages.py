"""What an automated message says, per kind and step, in the contact's language (local templates; no LLM needed).

Kinds: follow_up (flow 8: steps 1 value-add at 24 h, 2 soft urgency at 96 h, 3 last chance with an opt-out offer at
168 h, 4 passive nurturing at 14 days), nurturing (flow 10), closing_offer (flow 11: an offer within the allowed
discount), cart_recovery (flow 12: steps 1 at 1 h, 2 at 24 h), payment_reminder (flow 13: due_in_3, due_today,
overdue_1, overdue_7).
"""

from __future__ import annotations

from typing import Any

KINDS = ("follow_up", "nurturing", "closing_offer", "cart_recovery", "payment_reminder")  # DESIGN.md's action kinds

_ES: dict[tuple[str, str], str] = {
    ("follow_up", "1"): "Hola{name}, te dejo un dato útil sobre lo que conversamos: {tip} ¿Te ayudo con algo más?",
    ("follow_up", "2"): "Hola{name}, quería avisarte que {product_hint}las existencias se mueven rápido esta "
                        "semana. Si quieres, te lo aparto hoy.",
    ("follow_up", "3"): "Hola{name}, es mi último mensaje sobre esto: si aún te interesa, respóndeme y lo "
                        "resolvemos. Si prefieres no recibir más mensajes, escribe BAJA.",
    ("follow_up", "4"): "Hola{name}, de vez en cuando compartimos novedades y ofertas. Aquí estamos cuando lo "
                        "necesites.",
    ("nurturing", "1"): "Hola{name}, pensamos que esto te puede interesar: {content}",
    ("closing_offer", "1"): "Hola{name}, para que te decidas hoy: {discount}% de descuento en {product} si confirmas "
                      "antes de {deadline}. ¿Lo separamos?",
    ("cart_recovery", "1"): "Hola{name}, dejaste productos en tu carrito. Puedes completar tu compra aquí: {checkout_url}",
    ("cart_recovery", "2"): "Hola{name}, tu carrito sigue guardado, pero no podemos reservar el stock por mucho tiempo: "
                   "{checkout_url}",
    ("payment_reminder", "due_in_3"): "Hola{name}, te recordamos que tu factura {invoice} por {amount} vence en 3 días.",
    ("payment_reminder", "due_today"): "Hola{name}, tu factura {invoice} por {amount} vence hoy.",
    ("payment_reminder", "overdue_1"): "Hola{name}, tu factura {invoice} por {amount} venció ayer. ¿Te ayudamos con el pago?",
    ("payment_reminder", "overdue_7"): "Hola{name}, tu factura {invoice} por {amount} tiene 7 días de atraso. Escríbenos "
                              "si necesitas un arreglo de pago.",
}
_EN: dict[tuple[str, str], str] = {
    ("follow_up", "1"): "Hi{name}, a useful tip about what we talked about: {tip} Anything else I can help with?",
    ("follow_up", "2"): "Hi{name}, a heads-up: {product_hint}stock is moving fast this week. I can hold it for "
                        "you today.",
    ("follow_up", "3"): "Hi{name}, last message about this: if you are still interested, just reply. If you'd "
                        "rather not hear from us, reply STOP.",
    ("follow_up", "4"): "Hi{name}, we share news and offers now and then. We're here whenever you need us.",
    ("nurturing", "1"): "Hi{name}, we thought you might like this: {content}",
    ("closing_offer", "1"): "Hi{name}, to help you decide today: {discount}% off {product} if you confirm before "
                      "{deadline}. Shall we reserve it?",
    ("cart_recovery", "1"): "Hi{name}, you left items in your cart. You can finish your order here: {checkout_url}",
    ("cart_recovery", "2"): "Hi{name}, your cart is still saved, but we can't hold the stock for long: {checkout_url}",
    ("payment_reminder", "due_in_3"): "Hi{name}, a reminder that invoice {invoice} for {amount} is due in 3 days.",
    ("payment_reminder", "due_today"): "Hi{name}, invoice {invoice} for {amount} is due today.",
    ("payment_reminder", "overdue_1"): "Hi{name}, invoice {invoice} for {amount} was due yesterday. Can we help?",
    ("payment_reminder", "overdue_7"): "Hi{name}, invoice {invoice} for {amount} is 7 days overdue. Write to us if you need "
                              "a payment plan.",
}
_DEFAULTS = {"tip": "preguntar por garantía y envío antes de comprar te ahorra sorpresas.",
             "content": "nuestras novedades de la semana.", "product": "tu producto", "product_hint": "",
             "checkout_url": "", "invoice": "", "amount": "", "discount": "5", "deadline": "mañana"}
_DEFAULTS_EN = {**_DEFAULTS, "tip": "asking about warranty and shipping before buying saves surprises.",
                "content": "this week's news.", "product": "your product", "deadline": "tomorrow"}


class UnknownMessage(ValueError):
    """No template for this kind and step."""


def compose(kind: str, step: str, language: str | None, context: dict[str, Any], name: str | None = None) -> str:
    """The message text; `context` fills the placeholders (product, checkout_url, invoice, amount, discount...)."""
    english = (language or "es").startswith("en")
    templates = _EN if english else _ES
    template = templates.get((kind, str(step)))
    if template is None:
        raise UnknownMessage(f"no {kind} message for step {step!r}")
    values = {**(_DEFAULTS_EN if english else _DEFAULTS), **{k: v for k, v in context.items() if v is not None}}
    if values.get("product") and kind == "follow_up":
        values["product_hint"] = f"{values['product']}: " if context.get("product") else ""
    first = (name or "").split(" ")[0].strip()
    return template.format(name=f" {first}" if first else "", **values)
