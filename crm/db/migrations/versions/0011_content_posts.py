"""content calendar: posts for Instagram and Facebook pages, from draft to published (issue 8, flows 14-16)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_posts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media_url", sa.Text()),
        sa.Column("channels", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("source", sa.Text(), server_default="api", nullable=False),
        sa.Column("external_ids", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("approved_by", sa.Text()),
        sa.Column("approved_at", sa.DateTime(timezone=True)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'approved', 'published', 'failed')", name="content_status_known"),
        schema="crm",
    )
    op.create_index("ix_content_posts_due", "content_posts", ["scheduled_at"], schema="crm",
                    postgresql_where=sa.text("status = 'approved'"))


def downgrade() -> None:
    op.drop_index("ix_content_posts_due", table_name="content_posts", schema="crm")
    op.drop_table("content_posts", schema="crm")
