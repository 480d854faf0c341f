"""Moving frames between PostgreSQL and pandas for the warehouse assets: read with a query, replace a
`warehouse` table in one transaction (readers see the old table or the new one, never half of it)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

WAREHOUSE_SCHEMA = "warehouse"


def read_frame(conn: psycopg.Connection, query: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    with conn.cursor() as cursor:
        cursor.execute(query, params or {})
        columns = [column.name for column in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def _pg_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series) or (series.dtype == object and len(series.dropna()) and
                                              series.dropna().map(lambda v: isinstance(v, bool)).all()):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "timestamptz"
    return "text"


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)
    return value


def replace_table(conn: psycopg.Connection, frame: pd.DataFrame, table: str,
                  schema: str = WAREHOUSE_SCHEMA) -> int:
    """Create or replace `schema.table` with the frame's rows (COPY), atomically. Returns the row count."""
    staging = f"{table}__new"
    columns = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_pg_type(frame[c]))) for c in frame.columns]
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(sql.Identifier(schema), sql.Identifier(staging)))
        cursor.execute(sql.SQL("CREATE TABLE {}.{} ({})").format(sql.Identifier(schema), sql.Identifier(staging),
                                                                 sql.SQL(", ").join(columns)))
        copy = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
            sql.Identifier(schema), sql.Identifier(staging), sql.SQL(", ").join(map(sql.Identifier, frame.columns)))
        with cursor.copy(copy) as writer:
            for row in frame.itertuples(index=False, name=None):
                writer.write_row([_cell(v) for v in row])
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        cursor.execute(sql.SQL("ALTER TABLE {}.{} RENAME TO {}").format(
            sql.Identifier(schema), sql.Identifier(staging), sql.Identifier(table)))
    return len(frame)


def table_exists(conn: psycopg.Connection, table: str, schema: str = WAREHOUSE_SCHEMA) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.{table}",)).fetchone()[0]


def upsert_rows(conn: psycopg.Connection, frame: pd.DataFrame, table: str, key: str,
                schema: str = WAREHOUSE_SCHEMA) -> int:
    """Replace the rows of `schema.table` whose `key` is in the frame with the frame's rows, in one transaction
    (the incremental counterpart of replace_table; the table must exist with the frame's columns)."""
    if not len(frame):
        return 0
    target = sql.Identifier(schema, table)
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(target, sql.Identifier(key)),
                       ([_cell(v) for v in frame[key]],))
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(target, sql.SQL(", ").join(map(sql.Identifier,
                                                                                         frame.columns)))
        with cursor.copy(copy) as writer:
            for row in frame.itertuples(index=False, name=None):
                writer.write_row([_cell(v) for v in row])
    return len(frame)
