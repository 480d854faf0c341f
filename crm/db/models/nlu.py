"""What the CRM understood of each message, and every call made to an LLM provider."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, Numeric, SmallInteger, Text, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin


class AnalysisMixin:
    """Where a record came from: a stored message (the worker) or an API call (no message)."""

    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(Text, server_default="pipeline")
    model: Mapped[str] = mapped_column(Text)
    processing_time_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IntentDetection(IdMixin, AnalysisMixin, Base):
    __tablename__ = "intent_detections"

    language: Mapped[str | None] = mapped_column(Text)
    primary_intent: Mapped[str] = mapped_column(Text)
    secondary_intents: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    confidence: Mapped[float] = mapped_column(Float)
    entities: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))

    __table_args__ = (Index("ix_intent_detections_message_id", "message_id"),)


class SentimentAnalysis(IdMixin, AnalysisMixin, Base):
    __tablename__ = "sentiment_analyses"

    sentiment: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    emotions: Mapped[dict[str, float]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    urgency_level: Mapped[str] = mapped_column(Text)
    churn_risk: Mapped[int] = mapped_column(SmallInteger)
    triggers: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))

    __table_args__ = (Index("ix_sentiment_analyses_message_id", "message_id"),)


class LeadClassification(IdMixin, AnalysisMixin, Base):
    __tablename__ = "lead_classifications"

    score: Mapped[int] = mapped_column(SmallInteger)
    category: Mapped[str] = mapped_column(Text)
    factors: Mapped[list[Any]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    signals: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    reasoning: Mapped[str | None] = mapped_column(Text)
    recommended_action: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_lead_classifications_contact_id", "contact_id"),)


class RoutingRecord(IdMixin, AnalysisMixin, Base):
    __tablename__ = "routing_decisions"

    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(SmallInteger)
    rule: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))


class LlmCall(IdMixin, Base):
    """One request to an LLM provider (or the local models standing in), for latency and cost accounting."""

    __tablename__ = "llm_calls"

    task: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    estimated_cost_usd: Mapped[float | None] = mapped_column(Numeric(12, 6))
    outcome: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_llm_calls_created_at", "created_at"),)


class LabelFeedback(IdMixin, Base):
    """An intent and / or sentiment label a person corrected, for the next NLU retraining."""

    __tablename__ = "label_feedback"

    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(Text)
    sentiment: Mapped[str | None] = mapped_column(Text)
    labelled_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("intent IS NOT NULL OR sentiment IS NOT NULL", name="label_feedback_has_a_label"),
        Index("ix_label_feedback_created_at", "created_at"),
    )
