"""catalog search (full text in Spanish and English, trigram similarity), policies and FAQs

pg_trgm is a trusted extension (PostgreSQL 13+): a database owner can create it without being superuser.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DOCUMENT = "coalesce(name, '') || ' ' || coalesce(category, '') || ' ' || coalesce(description, '')"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for config in ("spanish", "english"):
        op.execute(
            f"ALTER TABLE crm.products ADD COLUMN search_{config} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('{config}', {_DOCUMENT})) STORED"
        )
        op.execute(f"CREATE INDEX ix_products_search_{config} ON crm.products USING gin (search_{config})")
    op.execute("CREATE INDEX ix_products_name_trgm ON crm.products USING gin (lower(name) gin_trgm_ops)")
    op.create_table(
        "policies",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_policies")),
        schema="crm",
    )
    op.create_table(
        "faqs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), server_default="es", nullable=False),
        sa.Column("tags", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faqs")),
        sa.UniqueConstraint("question", name=op.f("uq_faqs_question")),
        schema="crm",
    )


def downgrade() -> None:
    op.drop_table("faqs", schema="crm")
    op.drop_table("policies", schema="crm")
    op.execute("DROP INDEX IF EXISTS crm.ix_products_name_trgm")
    for config in ("spanish", "english"):
        op.execute(f"ALTER TABLE crm.products DROP COLUMN IF EXISTS search_{config}")
