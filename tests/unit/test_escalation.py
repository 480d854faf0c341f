"""The escalation criteria, one by one and at their boundaries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from serving.services.escalation import EscalationSignals, decide_escalation


@pytest.mark.parametrize("text", ["quiero hablar con una persona", "pásame con un asesor por favor",
                                  "necesito un humano real", "can I talk to a human?", "I want a real person",
                                  "speak with a manager"])
def test_explicit_requests_for_a_person(text: str) -> None:
    decision = decide_escalation(EscalationSignals(text=text))
    assert decision.escalate and decision.reasons == ["customer_asked_for_human"] and decision.priority == 4


@pytest.mark.parametrize("text", ["voy a poner una denuncia en ACODECO", "mi abogado los va a demandar",
                                  "this is fraud, I'll take legal action"])
def test_legal_words_are_most_urgent(text: str) -> None:
    decision = decide_escalation(EscalationSignals(text=text))
    assert "legal_or_compliance" in decision.reasons and decision.priority == 5


def test_sentiment_needs_more_than_three_messages_below_the_threshold() -> None:
    assert not decide_escalation(EscalationSignals("ok", average_sentiment=-0.9, analyzed_messages=3)).escalate
    assert not decide_escalation(EscalationSignals("ok", average_sentiment=-0.7, analyzed_messages=5)).escalate
    decision = decide_escalation(EscalationSignals("ok", average_sentiment=-0.71, analyzed_messages=4))
    assert decision.reasons == ["negative_sentiment"] and decision.priority == 5


def test_bot_failures_transactions_and_vips() -> None:
    assert not decide_escalation(EscalationSignals("hola", bot_failures=2)).escalate
    assert decide_escalation(EscalationSignals("hola", bot_failures=3)).reasons == ["bot_failed_repeatedly"]
    assert not decide_escalation(EscalationSignals("hola", transaction_amount=Decimal("5000"))).escalate
    assert decide_escalation(EscalationSignals("hola", transaction_amount=Decimal("5000.01"))).escalate
    vip = decide_escalation(EscalationSignals("hola", vip=True))
    assert vip.reasons == ["vip_customer"] and vip.priority == 3


def test_ordinary_messages_stay_with_the_bot() -> None:
    for text in ("hola, cuanto cuesta?", "gracias!", "where is my order?", "la persona que me atendió fue amable"):
        assert decide_escalation(EscalationSignals(text)).escalate is False


def test_short_and_english_requests_for_a_person_and_no_false_legal_alarm() -> None:
    for text in ("quiero un asesor", "necesito un agente", "quiero una persona", "I need a human", "agent please",
                 "me pasas con un humano?"):
        assert decide_escalation(EscalationSignals(text)).reasons == ["customer_asked_for_human"], text
    assert not decide_escalation(EscalationSignals("a mi juicio la Dell está mejor")).escalate
    assert not decide_escalation(EscalationSignals("quiero una laptop")).escalate
