"""What Meta sends: the raw webhook body, and the normalized rows parsed from it.

Every normalized table is an append-only log keyed by (channel, dedup_key), so a redelivered event inserts
nothing (ON CONFLICT DO NOTHING) and retries are harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (

    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin

RAW_EVENT_FK = "raw_webhook_events.id"


class RawWebhookEvent(IdMixin, Base):
    """One POST from Meta, byte for byte, with its processing state (the dead-letter state lives here)."""

    __tablename__ = "raw_webhook_events"

    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    object_type: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_sha256: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    signature_state: Mapped[str] = mapped_column(Text)
    item_counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    unparsed: Mapped[list[Any]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    processing_status: Mapped[str] = mapped_column(Text, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # body dropped (retention, erasure)

    __table_args__ = (
        CheckConstraint(
            "signature_state IN ('valid', 'unchecked')", name="signature_state_known"
        ),
        CheckConstraint(
            "processing_status IN ('queued', 'processed', 'no_action', 'retrying', 'dead_letter')",
            name="processing_status_known",
        ),
        Index(
            "ix_raw_webhook_events_pending",
            "processing_status",
            postgresql_where=sql_text("processing_status <> 'processed' AND processing_status <> 'no_action'"),
        ),
        Index("ix_raw_webhook_events_received_at", "received_at"),
    )


class Message(IdMixin, Base):
    """A chat message in either direction on WhatsApp, Instagram or Messenger (text, media, reactions, ...)."""

    __tablename__ = "messages"

    channel: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    raw_event_id: Mapped[int | None] = mapped_column(ForeignKey(RAW_EVENT_FK, ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    media: Mapped[list[Any]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    reply_to_external_id: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    referral: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    account_external_id: Mapped[str] = mapped_column(Text, server_default="")
    counterpart_external_id: Mapped[str] = mapped_column(Text)
    sender_profile: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_echo: Mapped[bool] = mapped_column(Boolean, server_default=sql_text("false"))
    errors: Mapped[list[Any] | None] = mapped_column(JSONB)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    status: Mapped[str | None] = mapped_column(Text)
    status_rank: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_error: Mapped[list[Any] | None] = mapped_column(JSONB)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("channel", "dedup_key"),
        CheckConstraint("direction IN ('inbound', 'outbound')", name="direction_known"),
        CheckConstraint("channel IN ('whatsapp', 'instagram', 'messenger')", name="channel_known"),
        Index("ix_messages_external_id", "channel", "external_id"),
        Index("ix_messages_conversation_sent_at", "conversation_id", "sent_at"),
        Index("ix_messages_raw_event_id", "raw_event_id"),
        Index("ix_messages_contact_id", "contact_id"),
    )


class MessageStatusEvent(IdMixin, Base):
    """Delivery receipts: sent / delivered / read / played / failed / deleted, kept as history."""

    __tablename__ = "message_status_events"

    channel: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(Text)
    external_message_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    status_rank: Mapped[int] = mapped_column(SmallInteger)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    account_external_id: Mapped[str] = mapped_column(Text, server_default="")
    counterpart_external_id: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[list[Any] | None] = mapped_column(JSONB)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    raw_event_id: Mapped[int | None] = mapped_column(ForeignKey(RAW_EVENT_FK, ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("channel", "dedup_key"),
        Index("ix_message_status_events_message", "channel", "external_message_id"),
    )


class SocialComment(IdMixin, Base):
    """Comments and mentions on Instagram media and Facebook page posts (one row per comment and verb)."""

    __tablename__ = "social_comments"

    channel: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    verb: Mapped[str] = mapped_column(Text)
    post_external_id: Mapped[str | None] = mapped_column(Text)
    parent_external_id: Mapped[str | None] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text, server_default="")
    author_external_id: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    raw_event_id: Mapped[int | None] = mapped_column(ForeignKey(RAW_EVENT_FK, ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("channel", "dedup_key"),
        CheckConstraint("channel IN ('instagram', 'facebook')", name="channel_known"),
        Index("ix_social_comments_external_id", "channel", "external_id"),
        Index("ix_social_comments_raw_event_id", "raw_event_id"),
    )


class PageFeedEvent(IdMixin, Base):
    """Other page feed activity: posts, reactions, shares, status updates."""

    __tablename__ = "page_feed_events"

    channel: Mapped[str] = mapped_column(Text, server_default="facebook")
    dedup_key: Mapped[str] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text, server_default="")
    item: Mapped[str] = mapped_column(Text)
    verb: Mapped[str | None] = mapped_column(Text)
    post_external_id: Mapped[str | None] = mapped_column(Text)
    author_external_id: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(Text)
    reaction_type: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    raw_event_id: Mapped[int | None] = mapped_column(ForeignKey(RAW_EVENT_FK, ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("channel", "dedup_key"),)


class LeadAdSubmission(IdMixin, Base):
    """A Facebook / Instagram lead-ad form submission; the field data is fetched from the Graph API later."""

    __tablename__ = "lead_ad_submissions"

    channel: Mapped[str] = mapped_column(Text, server_default="facebook")
    dedup_key: Mapped[str] = mapped_column(Text)
    leadgen_id: Mapped[str] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text, server_default="")
    form_id: Mapped[str | None] = mapped_column(Text)
    ad_id: Mapped[str | None] = mapped_column(Text)
    adgroup_id: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    field_data: Mapped[list[Any] | None] = mapped_column(JSONB)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    raw_event_id: Mapped[int | None] = mapped_column(ForeignKey(RAW_EVENT_FK, ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("channel", "dedup_key"),)


