"""The spec's routing matrix, rule by rule, including where rules overlap (first match wins)."""

from __future__ import annotations

import pytest

from serving.services.routing import RoutingInput, decide_route


def signal(intent: str = "general_inquiry", sentiment: str = "neutral", score: float = 0.0, churn: int = 0,
           lead: int = 30) -> RoutingInput:
    return RoutingInput(intent=intent, sentiment=sentiment, sentiment_score=score, churn_risk=churn, lead_score=lead)


@pytest.mark.parametrize(("given", "destination", "priority", "rule"), [
    (signal("purchase_inquiry", lead=80), "sales_team", 5, "hot_purchase"),
    (signal("purchase_inquiry", lead=95, sentiment="negative", score=-0.9, churn=90), "sales_team", 5,
     "hot_purchase"),
    (signal("purchase_inquiry", lead=79), "chatbot", 3, "default"),
    (signal("complaint", "negative", -0.61, 71), "retention_specialist", 5, "churn_risk"),
    (signal("complaint", "negative", -0.6, 90), "support_team", 4, "needs_human_support"),
    (signal("refund_request", "negative", -0.8, 70), "chatbot", 3, "default"),
    (signal("refund_request", "negative", -0.8, 71), "retention_specialist", 5, "churn_risk"),
    (signal("product_info", "neutral"), "chatbot", 2, "simple_question"),
    (signal("pricing_question", "positive", 0.8), "chatbot", 2, "simple_question"),
    (signal("pricing_question", "negative", -0.3, 20), "chatbot", 3, "default"),
    (signal("warranty_claim", "negative", -0.5, 40), "support_team", 4, "needs_human_support"),
    (signal("spam", lead=19), "auto_reject", 1, "spam"),
    (signal("spam", lead=20), "chatbot", 3, "default"),
    (signal("delivery_tracking"), "chatbot", 3, "default"),
])
def test_decision_matrix(given: RoutingInput, destination: str, priority: int, rule: str) -> None:
    decision = decide_route(given)
    assert (decision.destination, decision.priority, decision.rule) == (destination, priority, rule)
    assert decision.reasoning
