"""Results of message understanding, shared by the local models (ml.nlu) and the LLM adapters (ml.llm).

Every producer returns these pydantic models, so the serving layer does not care who answered.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Intent = Literal[
    "purchase_inquiry", "product_info", "pricing_question", "complaint", "support_request", "warranty_claim",
    "delivery_tracking", "refund_request", "partnership", "general_inquiry", "spam",
]
INTENTS: tuple[str, ...] = Intent.__args__  # type: ignore[attr-defined]
SentimentLabel = Literal["positive", "neutral", "negative"]
SENTIMENTS: tuple[str, ...] = SentimentLabel.__args__  # type: ignore[attr-defined]
Urgency = Literal["low", "medium", "high", "critical"]
LeadCategory = Literal["hot", "warm", "cold"]
EMOTIONS = ("anger", "frustration", "disappointment", "joy", "satisfaction")


class Entities(BaseModel):
    products: list[str] = Field(default_factory=list, description="product names or catalog SKUs mentioned")
    quantities: list[int] = Field(default_factory=list)
    money: list[dict] = Field(default_factory=list, description='[{"amount": 45.0, "currency": "USD"}]')
    dates: list[dict] = Field(default_factory=list, description='[{"text": "mañana", "date": "2026-11-26"}]')
    urgency_words: list[str] = Field(default_factory=list)
    order_numbers: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)


class IntentResult(BaseModel):
    primary_intent: Intent
    secondary_intents: list[Intent] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    entities: Entities = Field(default_factory=Entities)
    reasoning: str | None = None


class SentimentResult(BaseModel):
    sentiment: SentimentLabel
    score: float = Field(ge=-1.0, le=1.0, description="-1 very negative .. +1 very positive")
    confidence: float = Field(ge=0.0, le=1.0)
    emotions: dict[str, float] = Field(default_factory=dict, description="anger, frustration, disappointment, "
                                                                          "joy, satisfaction: 0..1")
    urgency_level: Urgency = "low"
    churn_risk: int = Field(0, ge=0, le=100)
    triggers: list[str] = Field(default_factory=list, description="the phrases that drove the result")


class LeadFactor(BaseModel):
    name: Literal["urgency", "decision_power", "budget", "product_fit"]
    points: int
    max_points: int
    evidence: list[str] = Field(default_factory=list)


class LeadScore(BaseModel):
    score: int = Field(ge=0, le=100)
    category: LeadCategory
    factors: list[LeadFactor] = Field(default_factory=list)
    signals: list[str] = Field(default_factory=list)
    reasoning: str
    recommended_action: str


def category_for(score: int) -> LeadCategory:
    """The spec's bands: hot >= 80, warm 50-79, cold < 50."""
    return "hot" if score >= 80 else "warm" if score >= 50 else "cold"
