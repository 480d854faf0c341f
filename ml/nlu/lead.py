"""Lead score 0-100 from the spec's criteria, each factor's points shown:
urgency 0-30, decision power 0-25, budget 0-25, product fit 0-20. Hot >= 80, warm 50-79, cold < 50.
A pure function of what the message says (a trained conversion model joins it in a later issue)."""

from __future__ import annotations

from ml.nlu.lexicons import BUDGET, DECISION_POWER, PURCHASE_WORDS
from ml.nlu.text import fold, matches
from ml.nlu.types import IntentResult, LeadFactor, LeadScore, SentimentResult, category_for

BUYING_INTENTS = {"purchase_inquiry": 1.0, "pricing_question": 0.7, "product_info": 0.6}
NOT_A_LEAD = {"spam", "complaint", "refund_request", "warranty_claim", "support_request", "delivery_tracking"}
URGENCY_POINTS = {"critical": 30, "high": 26, "medium": 18, "low": 0}
ACTIONS = {
    "hot": "assign_to_sales_immediately",
    "warm": "nurture_with_personalized_follow_up",
    "cold": "answer_with_information_and_monitor",
}


def score_lead(text: str, intent: IntentResult, sentiment: SentimentResult,
               sender_metadata: dict | None = None, catalog_loaded: bool = True) -> LeadScore:
    """`catalog_loaded=False` (a fresh install): product fit cannot be checked, so a concrete request (quantity or
    buying words) gets the benefit of the doubt instead of scoring as if nothing matched."""
    folded = fold(text)
    metadata = sender_metadata or {}
    entities = intent.entities
    buying = BUYING_INTENTS.get(intent.primary_intent, 0.0)
    buying = max(buying, *(0.5 * BUYING_INTENTS.get(i, 0.0) for i in intent.secondary_intents), 0.0)

    urgency_points = URGENCY_POINTS[sentiment.urgency_level] if buying else 0
    if buying and entities.dates and urgency_points < 14:
        urgency_points = 14
    urgency = LeadFactor(name="urgency", points=urgency_points, max_points=30,
                         evidence=entities.urgency_words + [d["text"] for d in entities.dates])

    decision_words = matches(DECISION_POWER, folded)
    purchase_words = matches(PURCHASE_WORDS, folded)
    big_order = any(q >= 10 for q in entities.quantities)
    decision_points = min(25, 15 * bool(decision_words) + 8 * big_order + 5 * bool(metadata.get("company")))
    if intent.primary_intent == "purchase_inquiry" and purchase_words and decision_points < 10:
        decision_points = 10  # "lo quiero", "I'll take it": the person writing is the one deciding
    elif buying and not decision_points and any(q >= 2 for q in entities.quantities):
        decision_points = 6
    decision = LeadFactor(name="decision_power", points=decision_points, max_points=25,
                          evidence=decision_words + ([f"quantity {max(entities.quantities)}"] if big_order else []))

    budget_words = matches(BUDGET, folded)
    budget_points = min(25, 12 * bool(entities.money) + 10 * bool(budget_words) + 3 * (len(budget_words) > 1)
                        + 15 * (big_order and bool(decision_words)))  # a business ordering volume has a budget
    budget = LeadFactor(name="budget", points=budget_points if buying else budget_points // 3, max_points=25,
                        evidence=[f"{m['amount']:g} {m['currency']}" for m in entities.money] + budget_words)

    concrete = bool(entities.quantities or purchase_words)
    product_points = 6 if entities.products else 6 if (not catalog_loaded and concrete and buying) else 0
    fit_points = round(10 * buying) + product_points + 4 * concrete
    fit = LeadFactor(name="product_fit", points=min(20, fit_points), max_points=20,
                     evidence=entities.products + purchase_words[:3]
                     + (["no catalog loaded to check the product"] if product_points and not entities.products
                        else []))

    factors = [urgency, decision, budget, fit]
    score = sum(f.points for f in factors)
    if intent.primary_intent in NOT_A_LEAD:
        score = min(score, 5 if intent.primary_intent == "spam" else 35)
    if sentiment.sentiment == "negative" and score > 40:
        score -= 10
    score = max(0, min(100, score))
    category = category_for(score)
    signals = [f.name for f in factors if f.points >= f.max_points // 2]
    return LeadScore(score=score, category=category, factors=factors, signals=signals,
                     reasoning=_reasoning(intent, factors, score),
                     recommended_action=action_for(category, intent.primary_intent))


def action_for(category: str, intent: str) -> str:
    return "ignore_spam" if intent == "spam" else ACTIONS[category]


def _reasoning(intent: IntentResult, factors: list[LeadFactor], score: int) -> str:
    parts = [f"intent {intent.primary_intent} ({intent.confidence:.0%})"]
    for factor in factors:
        if factor.points:
            evidence = f": {', '.join(factor.evidence[:3])}" if factor.evidence else ""
            parts.append(f"{factor.name.replace('_', ' ')} {factor.points}/{factor.max_points}{evidence}")
    if intent.primary_intent in NOT_A_LEAD:
        parts.append("not a buying conversation, so capped")
    return f"Score {score}: " + "; ".join(parts)
