"""outbound status check includes superseded

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 23:45:00

Databases migrated with an early 0005 have a status check without `superseded` (a burst's overtaken reply);
recreate it so every database has the same constraint.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "('queued', 'sending', 'sent', 'failed', 'unconfirmed', 'superseded')"


def upgrade() -> None:
    op.execute("ALTER TABLE crm.outbound_messages DROP CONSTRAINT IF EXISTS ck_outbound_messages_status_known")
    op.execute(f"ALTER TABLE crm.outbound_messages ADD CONSTRAINT ck_outbound_messages_status_known "
               f"CHECK (status IN {STATUSES})")


def downgrade() -> None:
    pass  # the constraint 0005 creates is this one
