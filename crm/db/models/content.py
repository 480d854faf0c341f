"""The content calendar (issue 8): posts for Instagram and Facebook pages, from draft to published; one
publication per post and channel (the state that makes publishing happen once); one action per social comment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin, TimestampMixin

POST_STATUSES = ("draft", "approved", "published", "failed")
POST_CHANNELS = ("instagram", "facebook")


class ContentPost(IdMixin, TimestampMixin, Base):
    __tablename__ = "content_posts"

    body: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(Text)
    channels: Mapped[list[str]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    source: Mapped[str] = mapped_column(Text, server_default="api")  # api | generator
    external_ids: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    last_error: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The generator's idempotency key (week, idea, product): proposing the same week twice adds nothing.
    generation_key: Mapped[str | None] = mapped_column(Text, unique=True)
    language: Mapped[str | None] = mapped_column(Text)
    product_ids: Mapped[list[int]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'approved', 'published', 'failed')", name="content_status_known"),
        Index("ix_content_posts_due", "scheduled_at", postgresql_where=sql_text("status = 'approved'")),
    )


class ContentPublication(IdMixin, TimestampMixin, Base):
    """A post on one channel. `publishing` means a request may have reached Meta: it is confirmed (the page's
    feed, the Instagram container's status) before anything is sent again."""

    __tablename__ = "content_publications"

    post_id: Mapped[int] = mapped_column(ForeignKey("content_posts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    container_id: Mapped[str | None] = mapped_column(Text)  # Instagram's media container, step one of two
    external_id: Mapped[str | None] = mapped_column(Text)  # the page post id / Instagram media id
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("post_id", "channel", name="uq_content_publications_post_channel"),
        CheckConstraint("channel IN ('instagram', 'facebook')", name="channel_known"),
        CheckConstraint("status IN ('pending', 'publishing', 'published', 'failed')", name="status_known"),
        Index("ix_content_publications_external_id", "channel", "external_id"),
    )


COMMENT_ACTIONS = ("public_reply", "private_reply", "hide", "escalate", "none")


class CommentAction(IdMixin, Base):
    """What the auto-responder decided for one comment, and how sending it went. Unique per comment."""

    __tablename__ = "comment_actions"

    comment_id: Mapped[int | None] = mapped_column(ForeignKey("social_comments.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(Text)
    account_external_id: Mapped[str] = mapped_column(Text)
    comment_external_id: Mapped[str] = mapped_column(Text)
    post_external_id: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(Text)
    sentiment: Mapped[str | None] = mapped_column(Text)
    lead_score: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(Text)
    reply_text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    external_id: Mapped[str | None] = mapped_column(Text)
    recipient_external_id: Mapped[str | None] = mapped_column(Text)  # the PSID / IGSID a private reply reached
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("channel", "comment_external_id", name="uq_comment_actions_comment"),
        CheckConstraint("action IN ('public_reply', 'private_reply', 'hide', 'escalate', 'none')",
                        name="action_known"),
        CheckConstraint("status IN ('pending', 'sending', 'done', 'failed', 'skipped')", name="status_known"),
        Index("ix_comment_actions_account_done", "account_external_id", "done_at"),
        Index("ix_comment_actions_post", "channel", "post_external_id"),
    )
