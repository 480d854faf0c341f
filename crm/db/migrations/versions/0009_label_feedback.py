"""label feedback: intent and sentiment labels corrected by agents, for retraining the local NLU

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "label_feedback",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("message_id", sa.BigInteger(), sa.ForeignKey("crm.messages.id", ondelete="SET NULL")),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.Text()),
        sa.Column("sentiment", sa.Text()),
        sa.Column("labelled_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("intent IS NOT NULL OR sentiment IS NOT NULL", name="label_feedback_has_a_label"),
        schema="crm",
    )
    op.create_index("ix_label_feedback_created_at", "label_feedback", ["created_at"], schema="crm")


def downgrade() -> None:
    op.drop_index("ix_label_feedback_created_at", table_name="label_feedback", schema="crm")
    op.drop_table("label_feedback", schema="crm")
