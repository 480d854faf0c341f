"""Human support: agents (who can take a conversation over) and tickets (why and for whom a person is needed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin, TimestampMixin

DEPARTMENTS = ("sales_team", "retention_specialist", "support_team")
TICKET_LIVE_STATUSES = ("open", "assigned")


class Agent(IdMixin, TimestampMixin, Base):
    """A person who answers customers. `capacity` is how many live tickets they take at once."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text, unique=True)
    department: Mapped[str] = mapped_column(Text)
    skills: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    languages: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[\"es\", \"en\"]'::jsonb"))
    capacity: Mapped[int] = mapped_column(Integer, server_default="5")
    available: Mapped[bool] = mapped_column(Boolean, server_default=sql_text("true"))
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("department IN ('sales_team', 'retention_specialist', 'support_team')",
                        name="department_known"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )


class Ticket(IdMixin, TimestampMixin, Base):
    """One escalation of a conversation. At most one live (open or assigned) ticket per conversation."""

    __tablename__ = "tickets"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    department: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="open")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    trigger_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'assigned', 'resolved', 'closed')", name="status_known"),
        Index("uq_tickets_one_live", "conversation_id", unique=True,
              postgresql_where=sql_text("status IN ('open', 'assigned')")),
        Index("ix_tickets_agent_id", "agent_id"),
    )
