"""The content calendar (issue 8): posts for Instagram and Facebook pages, from draft to published."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, Text
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

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'approved', 'published', 'failed')", name="content_status_known"),
        Index("ix_content_posts_due", "scheduled_at", postgresql_where=sql_text("status = 'approved'")),
    )
