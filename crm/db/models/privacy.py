"""Issue 9: inbound media kept after Meta's URLs expire, the consent log, and erasure requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin

MEDIA_STATUSES = ("pending", "stored", "failed", "rejected", "purged", "erased")


class MediaAttachment(IdMixin, Base):
    """One image, audio, video, document or sticker of a message: where Meta had it, where we keep it (a
    content-addressed key), and how downloading it went. `pending` with an error is retried; the message never
    waits for it."""

    __tablename__ = "media_attachments"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    channel: Mapped[str] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text, server_default="")
    kind: Mapped[str] = mapped_column(Text)
    source_media_id: Mapped[str | None] = mapped_column(Text)  # WhatsApp's media id (GET /{media-id} gives a URL)
    source_url: Mapped[str | None] = mapped_column(Text)  # Messenger / Instagram: the CDN URL itself
    declared_mime: Mapped[str | None] = mapped_column(Text)
    declared_sha256: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text)
    mime_type: Mapped[str | None] = mapped_column(Text)  # what the bytes are (checked), not what was declared
    sha256: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("message_id", "position", name="uq_media_attachments_message_position"),
        CheckConstraint("status IN ('pending', 'stored', 'failed', 'rejected', 'purged', 'erased')",
                        name="status_known"),
        Index("ix_media_attachments_pending", "next_attempt_at", postgresql_where=sql_text("status = 'pending'")),
        Index("ix_media_attachments_storage_key", "storage_key"),
        Index("ix_media_attachments_stored_at", "stored_at"),
    )


class ConsentEvent(IdMixin, Base):
    """An opt-in or opt-out, with where it came from and when: the latest one for a scope decides."""

    __tablename__ = "consent_events"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)  # opt_in | opt_out
    scope: Mapped[str] = mapped_column(Text, server_default="marketing")  # marketing | all
    channel: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)  # message, api, import, ...
    evidence: Mapped[str | None] = mapped_column(Text)  # e.g. the message id, never the message's text
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('opt_in', 'opt_out')", name="kind_known"),
        CheckConstraint("scope IN ('marketing', 'all')", name="scope_known"),
        Index("ix_consent_events_contact", "contact_id", "occurred_at"),
    )


class ErasureRequest(IdMixin, Base):
    """A forget request and what it removed (counts per place), keeping no personal data: the proof for Meta's
    deletion status URL and for an auditor."""

    __tablename__ = "erasure_requests"

    confirmation_code: Mapped[str] = mapped_column(Text, unique=True)
    source: Mapped[str] = mapped_column(Text)  # cli | api | meta
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    contact_ids: Mapped[list[int]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'completed', 'not_found')", name="status_known"),
    )
