"""The outbox: every message the CRM sends, one row per idempotency key, so a retry never sends twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin

OUTBOUND_STATUSES = ("queued", "sending", "sent", "failed", "unconfirmed", "superseded")


class OutboundMessage(IdMixin, Base):
    """`sending` is committed before the Graph call: a row found `sending` after a crash is not sent again but
    confirmed from the status webhooks (our key travels as biz_opaque_callback_data / metadata) or marked
    `unconfirmed` for a person to check. `superseded`: the customer wrote again before this reply went out, and
    the reply to their newer message (composed with everything they said) answers instead."""

    __tablename__ = "outbound_messages"

    idempotency_key: Mapped[str] = mapped_column(Text, unique=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    in_reply_to_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text)
    recipient_external_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, server_default="text")
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error_code: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the last send attempt began: an interrupted send waits for Meta's proof from then, not from queueing.
    sending_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'unconfirmed', 'superseded')", name="status_known"),
        Index("ix_outbound_messages_conversation_id", "conversation_id"),
    )
