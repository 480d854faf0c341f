"""Answers from the store's policies (payment, hours, returns, warranty, coverage) and from the customer's own
history (their orders and invoices). Pure: the caller passes the policies and the history it read.

Every figure and date comes from the policies or the customer's records, so the fact check holds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ml.nlu.text import fold
from serving.services.chat.facts import money

TOPICS: dict[str, re.Pattern[str]] = {
    "payment": re.compile(r"\b(pag(o|ar|an|os)|forma de pago|metodos? de pago|aceptan|tarjeta|yappy|transferencia|"
                          r"efectivo|credit card|debit|pay|payment|paypal|cash)\b"),
    "hours": re.compile(r"\b(horario|hora(s)? (abren|cierran|atienden)|hasta que hora|a que hora|abiert[oa]s?|"
                        r"cierran|opening hours|business hours|open (today|now|on)|what time|are you open)\b"),
    "returns": re.compile(r"\b(devolu\w*|devolver|cambio de producto|reembols\w*|return(s|ing)?|refund|exchange)\b"),
    "warranty": re.compile(r"\b(garantia|warranty|guarantee)\b"),
    "coverage": re.compile(r"\b(envian a|envios? a|llegan a|hacen envios|cobertura|deliver to|ship to|"
                           r"do you ship)\b"),
}
ORDER_STATUS = re.compile(r"\b(mi (pedido|orden|compra)|my order|order status|estado de (mi )?(pedido|orden)|"
                          r"no (me )?ha llegado|no llega|donde esta|where is|tracking|rastreo|seguimiento)\b")
INVOICE = re.compile(r"\b(factura|facturas|invoice|invoices|recibo|receipt|comprobante)\b")

ORDER_STATUS_ES = {"draft": "en borrador (falta confirmar el pago)", "pending": "pendiente de pago",
                   "paid": "pagado y en preparación", "shipped": "enviado", "delivered": "entregado",
                   "cancelled": "cancelado", "refunded": "reembolsado"}
ORDER_STATUS_EN = {"draft": "a draft (payment not confirmed yet)", "pending": "awaiting payment",
                   "paid": "paid and being prepared", "shipped": "shipped", "delivered": "delivered",
                   "cancelled": "cancelled", "refunded": "refunded"}
INVOICE_STATUS_ES = {"open": "pendiente", "paid": "pagada", "overdue": "vencida", "void": "anulada"}
INVOICE_STATUS_EN = {"open": "open", "paid": "paid", "overdue": "overdue", "void": "void"}


@dataclass(frozen=True)
class OrderFact:
    number: str
    status: str
    total: Decimal
    currency: str
    placed_at: datetime | None
    shipping_method: str | None = None
    shipping_city: str | None = None


@dataclass(frozen=True)
class InvoiceFact:
    number: str
    status: str
    amount: Decimal
    currency: str
    due_at: datetime | None = None


@dataclass
class CustomerHistory:
    orders: list[OrderFact] = field(default_factory=list)  # newest first
    invoices: list[InvoiceFact] = field(default_factory=list)  # newest first


@dataclass(frozen=True)
class KnowledgeAnswer:
    text: str
    topic: str
    offer_human: bool = False  # the answer is partial: a person should follow up


def asks_about_account(text: str) -> bool:
    """Worth reading the customer's orders and invoices for this message."""
    folded = fold(text)
    return bool(ORDER_STATUS.search(folded) or INVOICE.search(folded))


def policy_answer(text: str, policies: dict[str, Any], es: bool) -> KnowledgeAnswer | None:
    folded = fold(text)
    for topic, pattern in TOPICS.items():
        if pattern.search(folded):
            answer = _POLICY_WRITERS[topic](policies, es)
            if answer:
                return KnowledgeAnswer(answer, topic)
    return None


def _payment(policies: dict[str, Any], es: bool) -> str | None:
    methods = policies.get("payment_methods")
    if not methods:
        return None
    listed = ", ".join(map(str, methods)) if isinstance(methods, list) else str(methods)
    return (f"Aceptamos {listed} 💳. Cuando quieras, te ayudo a hacer el pedido." if es else
            f"We accept {listed} 💳. Whenever you're ready, I can place the order for you.")


def _hours(policies: dict[str, Any], es: bool) -> str | None:
    hours = policies.get("business_hours")
    if not hours:
        return None
    return (f"Nuestro horario de atención es {hours}. Por aquí te respondo a cualquier hora 😊" if es else
            f"Our team's hours are {hours}. I can answer here at any time 😊")


def _returns(policies: dict[str, Any], es: bool) -> str | None:
    returns = policies.get("returns")
    if not returns:
        return None
    return (f"Sobre devoluciones: {returns}. ¿Quieres que te ayude con una?" if es else
            f"About returns: {returns}. Would you like help with one?")


def _warranty(policies: dict[str, Any], es: bool) -> str | None:
    warranty = policies.get("warranty")
    if not warranty:
        return None
    return (f"Todos nuestros productos tienen garantía: {warranty}." if es else
            f"Our products come with a warranty: {warranty}.")


def _coverage(policies: dict[str, Any], es: bool) -> str | None:
    coverage = policies.get("coverage")
    if not coverage:
        return None
    where = ", ".join(map(str, coverage)) if isinstance(coverage, list) else str(coverage)
    lines = [f"Hacemos envíos a {where}." if es else f"We ship to {where}."]
    for option in policies.get("shipping") or []:
        price = option.get("price", 0)
        cost = ("Gratis" if es else "Free") if not price else money(price, policies.get("currency", "USD"))
        delay = f" ({option['delay']})" if option.get("delay") else ""
        lines.append(f"• {option['name']}{delay}: {cost}")
    return "\n".join(lines)


_POLICY_WRITERS = {"payment": _payment, "hours": _hours, "returns": _returns, "warranty": _warranty,
                   "coverage": _coverage}


def account_answer(text: str, history: CustomerHistory, es: bool) -> KnowledgeAnswer | None:
    """Order status or invoice facts from the customer's own records; None when the message asks neither."""
    folded = fold(text)
    if INVOICE.search(folded):
        return _invoice_answer(history, es)
    if ORDER_STATUS.search(folded):
        return _order_answer(history, es)
    return None


def _order_answer(history: CustomerHistory, es: bool) -> KnowledgeAnswer:
    if not history.orders:
        return KnowledgeAnswer(
            "No encuentro pedidos a tu nombre por este canal 🤔 ¿Me compartes el número de pedido? Te conecto con "
            "un asesor para revisarlo." if es else
            "I can't find orders under your name on this channel 🤔 Could you share the order number? I'll get an "
            "advisor to check it.", "order_status", offer_human=True)
    order = history.orders[0]
    statuses = ORDER_STATUS_ES if es else ORDER_STATUS_EN
    state = statuses.get(order.status, order.status)
    when = f" del {order.placed_at:%d/%m/%Y}" if es and order.placed_at else (
        f" from {order.placed_at:%Y-%m-%d}" if order.placed_at else "")
    via = ""
    if order.shipping_method:
        via = (f", envío {order.shipping_method}" + (f" a {order.shipping_city}" if order.shipping_city else "")
               if es else f", {order.shipping_method} shipping" + (f" to {order.shipping_city}"
                                                                  if order.shipping_city else ""))
    total = money(order.total, order.currency)
    late = order.status in ("paid", "shipped")
    if es:
        text = f"Tu pedido {order.number}{when} ({total}{via}) está {state}."
        text += " Le pido al equipo que revise la entrega y te escriba por aquí 🙏" if late else ""
    else:
        text = f"Your order {order.number}{when} ({total}{via}) is {state}."
        text += " I'm asking the team to check the delivery and write to you here 🙏" if late else ""
    return KnowledgeAnswer(text, "order_status", offer_human=late)


def _invoice_answer(history: CustomerHistory, es: bool) -> KnowledgeAnswer:
    if not history.invoices:
        return KnowledgeAnswer(
            "No veo una factura a tu nombre todavía. Le pido al equipo que la emita y te la envíe por aquí 🧾" if es
            else "I don't see an invoice under your name yet. I'm asking the team to issue it and send it here 🧾",
            "invoice", offer_human=True)
    invoice = history.invoices[0]
    statuses = INVOICE_STATUS_ES if es else INVOICE_STATUS_EN
    amount = money(invoice.amount, invoice.currency)
    if es:
        text = (f"Tu factura {invoice.number} por {amount} está {statuses.get(invoice.status, invoice.status)}. "
                "Le pido al equipo que te envíe el documento por aquí 🧾")
    else:
        text = (f"Your invoice {invoice.number} for {amount} is {statuses.get(invoice.status, invoice.status)}. "
                "I'm asking the team to send you the document here 🧾")
    return KnowledgeAnswer(text, "invoice", offer_human=True)
