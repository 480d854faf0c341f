"""Looking for a person's identifiers anywhere in the database: the proof an erasure was complete. Every text,
JSON and byte column of every table in the crm schema, the warehouse and the dbt schemas is searched."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SCHEMAS = ("crm", "warehouse", "staging", "intermediate", "marts")
SKIPPED_TABLES = {"alembic_version"}


@dataclass
class Needles:
    phones: list[str] = field(default_factory=list)  # E.164
    emails: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # channel ids: wa_id, PSID, IGSID, ...

    def all(self) -> list[str]:
        found = set(self.emails) | set(self.identifiers)
        for phone in self.phones:
            found |= {phone, phone.lstrip("+")}
        return sorted(n for n in found if n and len(n) >= 6)


async def find_residue(session: AsyncSession, needles: Needles) -> list[str]:
    """`schema.table.column` for every column still holding one of the needles (case-insensitive)."""
    patterns = [f"%{n.lower()}%" for n in needles.all()]
    if not patterns:
        return []
    columns = (await session.execute(text("""
        SELECT c.table_schema, c.table_name, c.column_name, c.data_type FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = ANY(:schemas) AND t.table_type = 'BASE TABLE'
          AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea')
        ORDER BY 1, 2, 3"""), {"schemas": list(SCHEMAS)})).all()
    found = []
    for schema, table, column, kind in columns:
        if table in SKIPPED_TABLES:
            continue
        value = (f'lower(encode("{column}", \'escape\'))' if kind == "bytea" else f'lower("{column}"::text)')
        hit = await session.scalar(text(f'SELECT 1 FROM "{schema}"."{table}" WHERE {value} LIKE ANY(:patterns) '
                                        "LIMIT 1"), {"patterns": patterns})
        if hit:
            found.append(f"{schema}.{table}.{column}")
    return found
