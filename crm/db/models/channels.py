"""Our side of each channel: WhatsApp numbers, Facebook pages and Instagram accounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, Text, UniqueConstraint, text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.db.base import Base, IdMixin, TimestampMixin


class ChannelAccount(IdMixin, TimestampMixin, Base):
    """external_id is the phone_number_id, page id or Instagram account id Meta puts in webhooks.
    The access token is encrypted with CRM_SECRET_KEY (crm.security.secrets)."""

    __tablename__ = "channel_accounts"

    channel: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    phone_number: Mapped[str | None] = mapped_column(Text)
    business_account_id: Mapped[str | None] = mapped_column(Text)
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))

    __table_args__ = (UniqueConstraint("channel", "external_id"),)
