"""automation events by type and time: the closer and alert sensors scan `lead.hot` events by age

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_automation_events_type_created", "automation_events", ["event_type", "created_at"],
                    schema="crm")


def downgrade() -> None:
    op.drop_index("ix_automation_events_type_created", table_name="automation_events", schema="crm")
