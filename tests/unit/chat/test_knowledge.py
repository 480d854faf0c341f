"""Policy and account answers: only what the policies and the customer's records say."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ml.nlu.types import IntentResult
from serving.services.chat.facts import ProductFact
from serving.services.chat.knowledge import (
    CustomerHistory,
    InvoiceFact,
    OrderFact,
    account_answer,
    asks_about_account,
    policy_answer,
)
from serving.services.chat.responder import respond
from serving.services.chat.state import DialogueState

POLICIES = {"currency": "USD", "coverage": "toda Panamá", "returns": "30 días con factura, producto sin uso",
            "warranty": "12 meses de fábrica", "payment_methods": ["tarjeta", "Yappy", "transferencia"],
            "business_hours": "lunes a viernes 9:00-18:00",
            "shipping": [{"name": "Express", "price": 15, "delay": "24-48 h"},
                         {"name": "Estándar", "price": 0, "delay": "3-5 días"}]}


def test_policy_questions_are_answered_from_the_policies() -> None:
    assert "tarjeta, Yappy, transferencia" in policy_answer("aceptan yappy o solo tarjeta?", POLICIES, True).text
    assert "lunes a viernes 9:00-18:00" in policy_answer("hasta que hora estan abiertos hoy", POLICIES, True).text
    returns = policy_answer("can I return the chair if it doesn't fit?", POLICIES, False)
    assert returns.topic == "returns" and "30 días con factura" in returns.text
    assert "12 meses" in policy_answer("tiene garantía?", POLICIES, True).text
    coverage = policy_answer("hacen envios a David?", POLICIES, True).text
    assert "toda Panamá" in coverage and "Express (24-48 h): $15" in coverage
    assert policy_answer("aceptan yappy?", {}, True) is None, "no policy, no invented answer"
    assert policy_answer("busco una laptop", POLICIES, True) is None


def intent(name: str) -> IntentResult:
    return IntentResult(primary_intent=name, confidence=0.9)


def test_a_product_question_with_a_coverage_question_gets_both() -> None:
    tv = ProductFact("TV-55", "Smart TV Samsung 55 pulgadas", Decimal("549"), "USD", 4, "4K UHD")
    reply = respond(DialogueState(need=["smart", "tv"]), "q precio tiene el smart TV 55 y hacen envios a David",
                    intent("pricing_question"), [tv], POLICIES)
    assert "$549" in reply.text and "toda Panamá" in reply.text
    only_policy = respond(DialogueState(), "aceptan yappy o solo tarjeta?", intent("general_inquiry"), [], POLICIES)
    assert only_policy.action is None and "Yappy" in only_policy.text


def test_order_status_and_invoices_come_from_the_customers_records() -> None:
    history = CustomerHistory(
        orders=[OrderFact("WA-12-1", "shipped", Decimal("1114"), "USD", datetime(2026, 11, 20, tzinfo=UTC),
                          "Express", "David")],
        invoices=[InvoiceFact("F-0042", "overdue", Decimal("59"), "USD")])
    assert asks_about_account("mi pedido no ha llegado y ya pasaron 5 dias 😡")
    status = account_answer("mi pedido no ha llegado y ya pasaron 5 dias", history, True)
    assert status.text.startswith("Tu pedido WA-12-1 del 20/11/2026 ($1,114, envío Express a David) está enviado.")
    assert status.offer_human, "a late delivery needs a person to follow up"
    invoice = account_answer("hey can you send me the invoice for last week's purchase", history, False)
    assert "F-0042 for $59 is overdue" in invoice.text and invoice.topic == "invoice"
    nothing = account_answer("donde esta mi pedido?", CustomerHistory(), True)
    assert "No encuentro pedidos" in nothing.text and nothing.offer_human
    assert not asks_about_account("busco una laptop para programar")
