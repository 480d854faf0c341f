"""job queue: procrastinate's tables and functions inside the crm schema

procrastinate ships its schema as SQL with unqualified names; it is applied with search_path set to `crm`,
and every connection the project opens uses search_path=crm,public (crm.db.engine.CONNECTION_OPTIONS).
The SQL is frozen beside this file (procrastinate 3.10.0's schema.sql), so this revision creates the same thing
whatever version is installed; a procrastinate upgrade adds a revision applying its own migration files from
procrastinate/sql/migrations the same way.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from pathlib import Path

from alembic import op

SCHEMA_SQL = Path(__file__).with_name("0002_procrastinate_3_10_schema.sql")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("SET LOCAL search_path TO crm")
    op.execute(SCHEMA_SQL.read_text())
    op.execute("SET LOCAL search_path TO crm, public")


def downgrade() -> None:
    op.execute(
        "DROP TABLE IF EXISTS crm.procrastinate_events, crm.procrastinate_periodic_defers, "
        "crm.procrastinate_jobs, crm.procrastinate_workers CASCADE"
    )
    op.execute("DROP TYPE IF EXISTS crm.procrastinate_job_to_defer_v1, crm.procrastinate_job_event_type, "
               "crm.procrastinate_job_status CASCADE")
