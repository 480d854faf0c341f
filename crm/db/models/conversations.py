"""A conversation: one thread between a contact and one of our channel accounts, open until closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, Text
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin, TimestampMixin


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversations"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(Text, server_default="open")
    assigned_agent: Mapped[str | None] = mapped_column(Text)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_outbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_reason: Mapped[str | None] = mapped_column(Text)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    # Aggregates kept by the worker as messages are understood.
    message_count: Mapped[int] = mapped_column(Integer, server_default="0")
    analyzed_count: Mapped[int] = mapped_column(Integer, server_default="0")
    sentiment_sum: Mapped[float] = mapped_column(Float, server_default="0")
    avg_sentiment: Mapped[float | None] = mapped_column(Float)
    last_intent: Mapped[str | None] = mapped_column(Text)
    route: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int | None] = mapped_column(Integer)
    # What the agent remembers between turns (serving.services.chat.state.DialogueState).
    agent_state: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    bot_paused: Mapped[bool] = mapped_column(Boolean, server_default=sql_text("false"))
    # Replies the bot could not ground (no matching product, unanswerable question): 3 escalate.
    bot_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    csat_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # At most one live thread per contact, channel and account: the worker reuses it.
        Index(
            "uq_conversations_one_live",
            "contact_id",
            "channel",
            "account_external_id",
            unique=True,
            postgresql_where=sql_text("status <> 'closed'"),
        ),
        Index("ix_conversations_status", "status"),
    )
