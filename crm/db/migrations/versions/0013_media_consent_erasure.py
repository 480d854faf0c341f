"""privacy, inbound media and operations (issue 9): downloaded media per message, the consent log, erasure
requests (what was forgotten, without who), and when a raw webhook body was purged

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_attachments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("message_id", sa.BigInteger(), sa.ForeignKey("crm.messages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("account_external_id", sa.Text(), server_default="", nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source_media_id", sa.Text()),
        sa.Column("source_url", sa.Text()),
        sa.Column("declared_mime", sa.Text()),
        sa.Column("declared_sha256", sa.Text()),
        sa.Column("filename", sa.Text()),
        sa.Column("mime_type", sa.Text()),
        sa.Column("sha256", sa.Text()),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("storage_key", sa.Text()),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("stored_at", sa.DateTime(timezone=True)),
        sa.Column("purged_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("message_id", "position", name="uq_media_attachments_message_position"),
        sa.CheckConstraint("status IN ('pending', 'stored', 'failed', 'rejected', 'purged', 'erased')",
                           name="ck_media_attachments_status_known"),
        schema="crm",
    )
    op.create_index("ix_media_attachments_pending", "media_attachments", ["next_attempt_at"], schema="crm",
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_media_attachments_storage_key", "media_attachments", ["storage_key"], schema="crm")
    op.create_index("ix_media_attachments_stored_at", "media_attachments", ["stored_at"], schema="crm")

    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("contact_id", sa.BigInteger(), sa.ForeignKey("crm.contacts.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), server_default="marketing", nullable=False),
        sa.Column("channel", sa.Text()),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text()),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('opt_in', 'opt_out')", name="ck_consent_events_kind_known"),
        sa.CheckConstraint("scope IN ('marketing', 'all')", name="ck_consent_events_scope_known"),
        schema="crm",
    )
    op.create_index("ix_consent_events_contact", "consent_events", ["contact_id", "occurred_at"], schema="crm")

    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("confirmation_code", sa.Text(), nullable=False, unique=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("contact_ids", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("summary", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('pending', 'completed', 'not_found')",
                           name="ck_erasure_requests_status_known"),
        schema="crm",
    )
    op.add_column("raw_webhook_events", sa.Column("purged_at", sa.DateTime(timezone=True)), schema="crm")


def downgrade() -> None:
    op.drop_column("raw_webhook_events", "purged_at", schema="crm")
    op.drop_table("erasure_requests", schema="crm")
    op.drop_table("consent_events", schema="crm")
    op.drop_table("media_attachments", schema="crm")
