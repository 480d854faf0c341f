"""content publishing and the comment auto-responder (issue 8, flows 14-17): what the generator proposed (its
idempotency key, language and products), one publication per post and channel, one action per comment

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONB_LIST = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.add_column("content_posts", sa.Column("generation_key", sa.Text()), schema="crm")
    op.add_column("content_posts", sa.Column("language", sa.Text()), schema="crm")
    op.add_column("content_posts", sa.Column("product_ids", postgresql.JSONB(), server_default=JSONB_LIST,
                                             nullable=False), schema="crm")
    op.create_unique_constraint("uq_content_posts_generation_key", "content_posts", ["generation_key"], schema="crm")

    op.create_table(
        "content_publications",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("post_id", sa.BigInteger(), sa.ForeignKey("crm.content_posts.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("account_external_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("container_id", sa.Text()),
        sa.Column("external_id", sa.Text()),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("post_id", "channel", name="uq_content_publications_post_channel"),
        sa.CheckConstraint("channel IN ('instagram', 'facebook')", name="ck_content_publications_channel_known"),
        sa.CheckConstraint("status IN ('pending', 'publishing', 'published', 'failed')",
                           name="ck_content_publications_status_known"),
        schema="crm",
    )
    op.create_index("ix_content_publications_external_id", "content_publications", ["channel", "external_id"],
                    schema="crm")

    op.create_table(
        "comment_actions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("comment_id", sa.BigInteger(), sa.ForeignKey("crm.social_comments.id", ondelete="SET NULL")),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("account_external_id", sa.Text(), nullable=False),
        sa.Column("comment_external_id", sa.Text(), nullable=False),
        sa.Column("post_external_id", sa.Text()),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("intent", sa.Text()),
        sa.Column("sentiment", sa.Text()),
        sa.Column("lead_score", sa.Integer()),
        sa.Column("language", sa.Text()),
        sa.Column("reply_text", sa.Text()),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("external_id", sa.Text()),
        sa.Column("recipient_external_id", sa.Text()),
        sa.Column("contact_id", sa.BigInteger(), sa.ForeignKey("crm.contacts.id", ondelete="SET NULL")),
        sa.Column("conversation_id", sa.BigInteger(), sa.ForeignKey("crm.conversations.id", ondelete="SET NULL")),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        # One decision per comment: a comment delivered twice, edited or replayed never gets a second reply.
        sa.UniqueConstraint("channel", "comment_external_id", name="uq_comment_actions_comment"),
        sa.CheckConstraint("action IN ('public_reply', 'private_reply', 'hide', 'escalate', 'none')",
                           name="ck_comment_actions_action_known"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'done', 'failed', 'skipped')",
                           name="ck_comment_actions_status_known"),
        schema="crm",
    )
    op.create_index("ix_comment_actions_account_done", "comment_actions", ["account_external_id", "done_at"],
                    schema="crm")
    op.create_index("ix_comment_actions_post", "comment_actions", ["channel", "post_external_id"], schema="crm")


def downgrade() -> None:
    op.drop_table("comment_actions", schema="crm")
    op.drop_table("content_publications", schema="crm")
    op.drop_constraint("uq_content_posts_generation_key", "content_posts", schema="crm")
    for column in ("product_ids", "language", "generation_key"):
        op.drop_column("content_posts", column, schema="crm")
