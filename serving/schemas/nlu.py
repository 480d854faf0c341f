"""Request and response shapes of the NLU endpoints (the spec's flows 2-5)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ml.nlu.types import Entities, Intent, LeadCategory, LeadFactor, SentimentLabel, Urgency

MAX_MESSAGE_CHARS = 4000

MessageText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS,
                                               strict=True)]


def require_text(value: str) -> str:
    """Letters, digits or emojis; not only punctuation, whitespace or invisible characters."""
    if not any(ch.isalnum() or (ord(ch) > 0x2100 and not ch.isspace() and ch.isprintable()) for ch in value):
        raise ValueError("message has no text to analyse (only punctuation, whitespace or invisible characters)")
    return value


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: MessageText = Field(description=f"the customer's text, 1 to {MAX_MESSAGE_CHARS} characters")
    context: dict[str, Any] | None = Field(None, description="extra context for an LLM provider, if configured")

    _has_text = field_validator("message")(classmethod(lambda cls, value: require_text(value)))


class SenderMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    phone: str | None = None
    name: str | None = None
    company: str | None = None
    previous_interactions: int | None = None


class LeadClassifyRequest(MessageRequest):
    sender_metadata: SenderMetadata | None = None


class AnalysisMeta(BaseModel):
    language: str
    ai_model_used: str
    processing_time_ms: float


class ModelFactor(BaseModel):
    feature: str
    value: Any = None
    contribution: float = Field(description="log-odds this feature added to the model's prediction")
    explanation: str


class LeadScoreResponse(AnalysisMeta):
    lead_id: str = Field(description="id of the stored classification record")
    score: int = Field(description="the rule score 0-100 (urgency, decision power, budget, product fit)")
    category: LeadCategory
    reasoning: str
    recommended_action: str
    factors: list[LeadFactor]
    signals: list[str]
    conversion_probability: float | None = Field(
        None, description="lead_conversion_classifier@champion: probability of a paid order within 90 days "
                          "(absent until a model is promoted)")
    combined_score: int | None = Field(None, description="half the rule score plus half the probability, 0-100")
    model_version: int | None = None
    top_factors: list[ModelFactor] = Field(default_factory=list,
                                           description="what moved the model's prediction most, in plain words")


class IntentResponse(AnalysisMeta):
    intent_id: str
    primary_intent: Intent
    secondary_intents: list[Intent]
    confidence: float
    entities: Entities


class SentimentResponse(AnalysisMeta):
    sentiment_id: str
    sentiment: SentimentLabel
    score: float
    confidence: float
    emotions: dict[str, float]
    urgency_level: Urgency
    churn_risk: int
    triggers: list[str]
    recommended_priority: str


class RoutingSignals(BaseModel):
    intent: Intent
    sentiment: SentimentLabel
    sentiment_score: float = Field(ge=-1, le=1)
    churn_risk: int = Field(ge=0, le=100)
    lead_score: int = Field(ge=0, le=100)


class RoutingRequest(BaseModel):
    """Either a message (understood first) or the signals themselves."""

    message: MessageText | None = None
    signals: RoutingSignals | None = None

    @field_validator("message")
    @classmethod
    def _has_text(cls, value: str | None) -> str | None:
        return None if value is None else require_text(value)

    def model_post_init(self, __context: Any) -> None:
        if (self.message is None) == (self.signals is None):
            raise ValueError("send exactly one of `message` or `signals`")


class RoutingResponse(BaseModel):
    routing_id: str | None
    destination: str
    priority: int = Field(description="1 (lowest) to 5 (most urgent)")
    rule: str
    reasoning: str
    inputs: RoutingSignals
    ai_model_used: str | None = None
    processing_time_ms: float


def recommended_priority(urgency: str, score: float, churn_risk: int) -> str:
    if urgency == "critical" or score < -0.7 or churn_risk > 80:
        return "escalate_immediately"
    if urgency == "high" or score < -0.4:
        return "respond_within_1h"
    return "normal"
