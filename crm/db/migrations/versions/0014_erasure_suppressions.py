"""erasure suppressions: keyed hashes of a forgotten person's ids and message ids, so a late webhook (a status, a
redelivery in a new envelope) cannot bring them back; a partial index for the retention purge

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 06:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_suppressions",
        sa.Column("identifier_hash", sa.Text(), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema="crm",
    )
    op.create_index("ix_raw_webhook_events_unpurged", "raw_webhook_events", ["received_at"], schema="crm",
                    postgresql_where=sa.text("purged_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_raw_webhook_events_unpurged", table_name="raw_webhook_events", schema="crm")
    op.drop_table("erasure_suppressions", schema="crm")
