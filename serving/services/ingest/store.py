"""The single SQL statement that stores a batch of webhook deliveries.

One statement (data-modifying CTEs) inserts the raw bodies, every normalized row, moves message statuses
forward and queues one procrastinate job per body that needs the worker; on an autocommit connection it is
its own transaction, so a body is either wholly stored and queued or not at all. Duplicates are dropped by
the unique keys (ON CONFLICT DO NOTHING): a redelivery stores and queues nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from psycopg import AsyncConnection

from serving.services.ingest.events import ParsedDelivery

INBOUND_QUEUE = "inbound"
PROCESS_TASK = "process_raw_event"


@dataclass(slots=True)
class IncomingDelivery:
    body: bytes
    headers: dict[str, str]
    signature_state: str
    parsed: ParsedDelivery
    sha256: bytes = b""

    def __post_init__(self) -> None:
        if not self.sha256:
            self.sha256 = hashlib.sha256(self.body).digest()

    @property
    def job_lock(self) -> str | None:
        """Jobs of one customer run in order: lock on the first sender's identity."""
        if self.parsed.messages:
            first = self.parsed.messages[0]
            return f"{first.channel}:{first.counterpart_external_id}"
        return None


@dataclass(slots=True)
class StoredDelivery:
    event_id: int | None
    duplicate: bool
    queued: bool = False
    stored: dict[str, int] = field(default_factory=dict)
    ids: dict[str, list[int]] = field(default_factory=dict)
    dead_letter: bool = False

    def as_response(self) -> dict[str, Any]:
        return {
            "status": "duplicate" if self.duplicate else "stored",
            "event_id": self.event_id,
            "queued": self.queued,
            "stored": self.stored,
            "ids": self.ids,
            **({"dead_letter": True} if self.dead_letter else {}),
        }


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


Column = tuple[str, str, Callable[[Any], Any]]


@dataclass(frozen=True, slots=True)
class TableSpec:
    kind: str  # the ParsedDelivery attribute and the key in responses
    table: str
    columns: tuple[Column, ...]


TABLES: tuple[TableSpec, ...] = (
    TableSpec("messages", "messages", (
        ("channel", "text", lambda e: e.channel),
        ("dedup_key", "text", lambda e: e.dedup_key),
        ("external_id", "text", lambda e: e.external_id),
        ("direction", "text", lambda e: e.direction),
        ("message_type", "text", lambda e: e.message_type),
        ("text", "text", lambda e: e.text),
        ("media", "jsonb", lambda e: _json(e.media)),
        ("reply_to_external_id", "text", lambda e: e.reply_to_external_id),
        ("context", "jsonb", lambda e: _json(e.context)),
        ("referral", "jsonb", lambda e: _json(e.referral)),
        ("payload", "jsonb", lambda e: _json(e.payload)),
        ("account_external_id", "text", lambda e: e.account_external_id),
        ("counterpart_external_id", "text", lambda e: e.counterpart_external_id),
        ("sender_profile", "jsonb", lambda e: _json(e.sender_profile)),
        ("sent_at", "timestamptz", lambda e: e.sent_at),
        ("is_echo", "boolean", lambda e: e.is_echo),
        ("errors", "jsonb", lambda e: _json(e.errors)),
    )),
    TableSpec("statuses", "message_status_events", (
        ("channel", "text", lambda e: e.channel),
        ("dedup_key", "text", lambda e: e.dedup_key),
        ("external_message_id", "text", lambda e: e.external_message_id),
        ("status", "text", lambda e: e.status),
        ("status_rank", "smallint", lambda e: e.rank),
        ("occurred_at", "timestamptz", lambda e: e.occurred_at),
        ("watermark", "timestamptz", lambda e: e.watermark),
        ("account_external_id", "text", lambda e: e.account_external_id),
        ("counterpart_external_id", "text", lambda e: e.counterpart_external_id),
        ("errors", "jsonb", lambda e: _json(e.errors)),
        ("details", "jsonb", lambda e: _json(e.details)),
    )),
    TableSpec("comments", "social_comments", (
        ("channel", "text", lambda e: e.channel),
        ("dedup_key", "text", lambda e: e.dedup_key),
        ("external_id", "text", lambda e: e.external_id),
        ("kind", "text", lambda e: e.kind),
        ("verb", "text", lambda e: e.verb),
        ("post_external_id", "text", lambda e: e.post_external_id),
        ("parent_external_id", "text", lambda e: e.parent_external_id),
        ("account_external_id", "text", lambda e: e.account_external_id),
        ("author_external_id", "text", lambda e: e.author_external_id),
        ("author_name", "text", lambda e: e.author_name),
        ("text", "text", lambda e: e.text),
        ("created_time", "timestamptz", lambda e: e.created_time),
        ("payload", "jsonb", lambda e: _json(e.payload)),
    )),
    TableSpec("feed", "page_feed_events", (
        ("channel", "text", lambda e: e.channel),
        ("dedup_key", "text", lambda e: e.dedup_key),
        ("account_external_id", "text", lambda e: e.account_external_id),
        ("item", "text", lambda e: e.item),
        ("verb", "text", lambda e: e.verb),
        ("post_external_id", "text", lambda e: e.post_external_id),
        ("author_external_id", "text", lambda e: e.author_external_id),
        ("author_name", "text", lambda e: e.author_name),
        ("reaction_type", "text", lambda e: e.reaction_type),
        ("text", "text", lambda e: e.text),
        ("occurred_at", "timestamptz", lambda e: e.occurred_at),
        ("payload", "jsonb", lambda e: _json(e.payload)),
    )),
    TableSpec("leads", "lead_ad_submissions", (
        ("channel", "text", lambda e: e.channel),
        ("dedup_key", "text", lambda e: e.dedup_key),
        ("leadgen_id", "text", lambda e: e.leadgen_id),
        ("account_external_id", "text", lambda e: e.account_external_id),
        ("form_id", "text", lambda e: e.form_id),
        ("ad_id", "text", lambda e: e.ad_id),
        ("adgroup_id", "text", lambda e: e.adgroup_id),
        ("created_time", "timestamptz", lambda e: e.created_time),
        ("payload", "jsonb", lambda e: _json(e.payload)),
    )),
)

_RAW_COLUMNS = ("sha", "body", "object_type", "headers", "signature_state", "item_counts", "unparsed",
                "processing_status", "lock")
_RAW_TYPES = ("bytea", "bytea", "text", "jsonb", "text", "jsonb", "jsonb", "text", "text")


def _raw_row(delivery: IncomingDelivery, dead_letter_error: str | None = None) -> tuple[Any, ...]:
    parsed = delivery.parsed
    if dead_letter_error is not None:
        status = "dead_letter"
    else:
        status = "queued" if parsed.needs_processing else "no_action"
    return (
        delivery.sha256,
        delivery.body,
        parsed.object_type,
        _json(delivery.headers),
        delivery.signature_state,
        _json(parsed.counts()),
        _json(parsed.unparsed),
        status,
        delivery.job_lock,
    )


def _unnest(prefix: str, names: Sequence[str], types: Sequence[str]) -> str:
    arrays = ", ".join(f"%({prefix}_{name})s::{pg_type}[]" for name, pg_type in zip(names, types, strict=True))
    return f"unnest({arrays}) AS t({', '.join(names)})"


def build_statement(deliveries: Sequence[IncomingDelivery],
                    dead_letter_error: str | None = None) -> tuple[str, dict[str, Any]]:
    """SQL + parameters for a batch with unique bodies. Only the tables the batch touches appear."""
    params: dict[str, Any] = {}
    rows = [_raw_row(d, dead_letter_error) for d in deliveries]
    for index, name in enumerate(_RAW_COLUMNS):
        params[f"raw_{name}"] = [row[index] for row in rows]
    ctes = [
        f"raw_in AS (SELECT * FROM {_unnest('raw', _RAW_COLUMNS, _RAW_TYPES)})",
        """ins_raw AS (
            INSERT INTO crm.raw_webhook_events (body_sha256, body, object_type, headers, signature_state,
                item_counts, unparsed, processing_status, last_error, processed_at)
            SELECT sha, body, object_type, headers, signature_state, item_counts, unparsed, processing_status,
                %(dead_letter_error)s,
                CASE WHEN processing_status = 'no_action' THEN now() END
            FROM raw_in
            ON CONFLICT (body_sha256) DO NOTHING
            RETURNING id, body_sha256, processing_status)""",
    ]
    params["dead_letter_error"] = dead_letter_error
    selects = ["SELECT 'raw' AS kind, id, body_sha256 AS sha, processing_status AS note FROM ins_raw"]
    if dead_letter_error is None:
        for spec in TABLES:
            items = [(d.sha256, event) for d in deliveries for event in getattr(d.parsed, spec.kind)]
            if not items:
                continue
            names = ("sha", *(c[0] for c in spec.columns))
            types = ("bytea", *(c[1] for c in spec.columns))
            params[f"{spec.kind}_sha"] = [sha for sha, _ in items]
            for column, _, getter in spec.columns:
                params[f"{spec.kind}_{column}"] = [getter(event) for _, event in items]
            column_list = ", ".join(c[0] for c in spec.columns)
            ctes.append(f"""ins_{spec.kind} AS (
                INSERT INTO crm.{spec.table} (raw_event_id, {column_list})
                SELECT r.id, {", ".join(f"t.{c[0]}" for c in spec.columns)}
                FROM {_unnest(spec.kind, names, types)}
                JOIN ins_raw r ON r.body_sha256 = t.sha
                ON CONFLICT (channel, dedup_key) DO NOTHING
                RETURNING id, raw_event_id)""")
            selects.append(
                f"SELECT '{spec.kind}', i.id, r.body_sha256, NULL FROM ins_{spec.kind} i "
                "JOIN ins_raw r ON r.id = i.raw_event_id"
            )
            if spec.kind == "statuses":
                ctes.extend(_status_updates(items))
        ctes.append(f"""ins_jobs AS (
            INSERT INTO crm.procrastinate_jobs (queue_name, task_name, priority, lock, args)
            SELECT '{INBOUND_QUEUE}', '{PROCESS_TASK}', 0, t.lock, jsonb_build_object('raw_event_id', r.id)
            FROM ins_raw r JOIN raw_in t ON t.sha = r.body_sha256
            WHERE r.processing_status = 'queued'
            RETURNING id)""")
    sql = "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL ".join(selects)
    return sql, params


def _status_updates(items: list[tuple[bytes, Any]]) -> list[str]:
    """Move each message's current status forward (never back): by message id, and by Messenger watermark."""
    status_array = _unnest(
        "statuses",
        ("sha", "channel", "dedup_key", "external_message_id", "status", "status_rank", "occurred_at",
         "watermark", "account_external_id", "counterpart_external_id", "errors", "details"),
        ("bytea", "text", "text", "text", "text", "smallint", "timestamptz", "timestamptz", "text", "text",
         "jsonb", "jsonb"),
    )
    ctes = [f"""upd_status AS (
        UPDATE crm.messages m SET status = s.status, status_rank = s.status_rank,
            status_at = COALESCE(s.occurred_at, now()),
            status_error = COALESCE(s.errors, m.status_error),
            deleted_at = CASE WHEN s.status = 'deleted' THEN COALESCE(s.occurred_at, now()) ELSE m.deleted_at END
        FROM (SELECT DISTINCT ON (channel, external_message_id) * FROM {status_array}
              WHERE t.external_message_id IS NOT NULL
              ORDER BY channel, external_message_id, status_rank DESC) s
        WHERE m.channel = s.channel AND m.external_id = s.external_message_id
          AND m.status_rank < s.status_rank
        RETURNING m.id)"""]
    if any(event.watermark is not None and event.external_message_id is None for _, event in items):
        ctes.append(f"""upd_watermark AS (
            UPDATE crm.messages m SET status = s.status, status_rank = s.status_rank,
                status_at = COALESCE(s.occurred_at, now())
            FROM (SELECT DISTINCT ON (channel, counterpart_external_id) * FROM {status_array}
                  WHERE t.external_message_id IS NULL AND t.watermark IS NOT NULL
                  ORDER BY channel, counterpart_external_id, status_rank DESC, watermark DESC) s
            WHERE m.channel = s.channel AND m.counterpart_external_id = s.counterpart_external_id
              AND m.direction = 'outbound' AND m.sent_at <= s.watermark AND m.status_rank < s.status_rank
            RETURNING m.id)""")
    return ctes


async def store_batch(conn: AsyncConnection, deliveries: Sequence[IncomingDelivery],
                      dead_letter_error: str | None = None) -> list[StoredDelivery]:
    """Store a batch; results come back in the order given. Bodies repeated inside the batch are stored once."""
    unique: dict[bytes, IncomingDelivery] = {}
    for delivery in deliveries:
        unique.setdefault(delivery.sha256, delivery)
    sql, params = build_statement(list(unique.values()), dead_letter_error)
    cursor = await conn.execute(sql, params)
    rows = await cursor.fetchall()

    raw_ids: dict[bytes, tuple[int, str]] = {}
    per_body: dict[bytes, dict[str, list[int]]] = {}
    for kind, row_id, sha, note in rows:
        sha = bytes(sha)
        if kind == "raw":
            raw_ids[sha] = (row_id, note)
        else:
            per_body.setdefault(sha, {}).setdefault(kind, []).append(row_id)
    existing = await _existing_ids(conn, [sha for sha in unique if sha not in raw_ids])

    results: list[StoredDelivery] = []
    claimed: set[bytes] = set()
    for delivery in deliveries:
        sha = delivery.sha256
        if sha in raw_ids and sha not in claimed:
            claimed.add(sha)
            event_id, status = raw_ids[sha]
            ids = per_body.get(sha, {})
            results.append(StoredDelivery(
                event_id=event_id,
                duplicate=False,
                queued=status == "queued",
                stored={kind: len(values) for kind, values in ids.items()},
                ids=ids,
                dead_letter=status == "dead_letter",
            ))
        else:
            event_id = raw_ids[sha][0] if sha in raw_ids else existing.get(sha)
            results.append(StoredDelivery(event_id=event_id, duplicate=True))
    return results


async def _existing_ids(conn: AsyncConnection, shas: list[bytes]) -> dict[bytes, int]:
    if not shas:
        return {}
    cursor = await conn.execute(
        "SELECT body_sha256, id FROM crm.raw_webhook_events WHERE body_sha256 = ANY(%s)", (shas,)
    )
    return {bytes(sha): row_id for sha, row_id in await cursor.fetchall()}
