"""Where a message goes: the spec's decision matrix as a pure function (priority 5 is the most urgent).

| rule | condition                                              | destination          | priority |
|------|--------------------------------------------------------|----------------------|----------|
| 1    | purchase intent and hot lead (score >= 80)             | sales_team           | 5        |
| 2    | sentiment score < -0.6 and churn risk > 70             | retention_specialist | 5        |
| 3    | product info / pricing and sentiment not negative      | chatbot              | 2        |
| 4    | complaint or warranty claim                            | support_team         | 4        |
| 5    | spam with a low lead score (< 20)                      | auto_reject          | 1        |
| 6    | anything else                                          | chatbot              | 3        |

Rules are tried in that order; the first that matches decides, and the reasoning says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOT_SCORE = 80
CHURN_SENTIMENT_BELOW = -0.6
CHURN_RISK_ABOVE = 70
SPAM_SCORE_BELOW = 20


@dataclass(frozen=True, slots=True)
class RoutingInput:
    intent: str
    sentiment: str
    sentiment_score: float
    churn_risk: int
    lead_score: int
    secondary_intents: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    destination: str
    priority: int
    rule: str
    reasoning: str


def decide_route(signal: RoutingInput) -> RoutingDecision:
    if signal.intent == "purchase_inquiry" and signal.lead_score >= HOT_SCORE:
        return RoutingDecision("sales_team", 5, "hot_purchase",
                               f"purchase intent with a hot lead score ({signal.lead_score} >= {HOT_SCORE})")
    if signal.sentiment_score < CHURN_SENTIMENT_BELOW and signal.churn_risk > CHURN_RISK_ABOVE:
        return RoutingDecision("retention_specialist", 5, "churn_risk",
                               f"very negative (score {signal.sentiment_score:+.2f}) with churn risk "
                               f"{signal.churn_risk} > {CHURN_RISK_ABOVE}")
    if signal.intent in ("product_info", "pricing_question") and signal.sentiment != "negative":
        return RoutingDecision("chatbot", 2, "simple_question",
                               f"{signal.intent} in a {signal.sentiment} tone: the assistant can answer")
    if signal.intent in ("complaint", "warranty_claim"):
        return RoutingDecision("support_team", 4, "needs_human_support",
                               f"{signal.intent} needs a person")
    if signal.intent == "spam" and signal.lead_score < SPAM_SCORE_BELOW:
        return RoutingDecision("auto_reject", 1, "spam",
                               f"spam with lead score {signal.lead_score} < {SPAM_SCORE_BELOW}")
    return RoutingDecision("chatbot", 3, "default",
                           f"{signal.intent} ({signal.sentiment}): standard route, escalation available")
