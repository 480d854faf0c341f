"""The single SQL statement that stores a batch of webhook deliveries.

One statement (data-modifying CTEs) inserts the raw bodies, every normalized row, moves message statuses
forward and queues one procrastinate job per body that needs the worker; on an autocommit connection it is
its own transaction, so a body is either wholly stored and queued or not at all. Duplicates are dropped by
the unique keys (ON CONFLICT DO NOTHING): a redelivery stores and queues nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection

from serving.services.channels.common import pg_safe
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
    # Set when the body cannot be normalized or stored normally: it is then kept alone as a dead letter.
    error: str | None = None

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


Column = tuple[str, str]


@dataclass(frozen=True, slots=True)
class TableSpec:
    kind: str  # the ParsedDelivery attribute and the key in responses
    table: str
    columns: tuple[Column, ...]  # event dataclass field = table column, with its SQL type


TABLES: tuple[TableSpec, ...] = (
    TableSpec("messages", "messages", (
        ("channel", "text"), ("dedup_key", "text"), ("external_id", "text"), ("direction", "text"),
        ("message_type", "text"), ("text", "text"), ("media", "jsonb"), ("reply_to_external_id", "text"),
        ("context", "jsonb"), ("referral", "jsonb"), ("payload", "jsonb"), ("account_external_id", "text"),
        ("counterpart_external_id", "text"), ("sender_profile", "jsonb"), ("sent_at", "timestamptz"),
        ("is_echo", "boolean"), ("errors", "jsonb"),
    )),
    TableSpec("statuses", "message_status_events", (
        ("channel", "text"), ("dedup_key", "text"), ("external_message_id", "text"), ("status", "text"),
        ("status_rank", "smallint"), ("occurred_at", "timestamptz"), ("watermark", "timestamptz"),
        ("account_external_id", "text"), ("counterpart_external_id", "text"), ("errors", "jsonb"),
        ("details", "jsonb"),
    )),
    TableSpec("comments", "social_comments", (
        ("channel", "text"), ("dedup_key", "text"), ("external_id", "text"), ("kind", "text"), ("verb", "text"),
        ("post_external_id", "text"), ("parent_external_id", "text"), ("account_external_id", "text"),
        ("author_external_id", "text"), ("author_name", "text"), ("text", "text"),
        ("created_time", "timestamptz"), ("payload", "jsonb"),
    )),
    TableSpec("feed", "page_feed_events", (
        ("channel", "text"), ("dedup_key", "text"), ("account_external_id", "text"), ("item", "text"),
        ("verb", "text"), ("post_external_id", "text"), ("author_external_id", "text"), ("author_name", "text"),
        ("reaction_type", "text"), ("text", "text"), ("occurred_at", "timestamptz"), ("payload", "jsonb"),
    )),
    TableSpec("leads", "lead_ad_submissions", (
        ("channel", "text"), ("dedup_key", "text"), ("leadgen_id", "text"), ("account_external_id", "text"),
        ("form_id", "text"), ("ad_id", "text"), ("adgroup_id", "text"), ("created_time", "timestamptz"),
        ("payload", "jsonb"),
    )),
)


def _document(delivery: IncomingDelivery) -> dict[str, Any]:
    """One delivery as JSON for the statement. orjson serializes the event dataclasses in C, which is why the
    batch travels as a single jsonb parameter rather than as one array per column."""
    parsed = delivery.parsed
    if delivery.error is not None:
        status = "dead_letter"
    else:
        status = "queued" if parsed.needs_processing else "no_action"
    document: dict[str, Any] = {
        "sha": delivery.sha256.hex(),
        # The body was accepted by a strict JSON parser, so it is valid UTF-8: this round trip is lossless.
        "body": delivery.body.decode("utf-8"),
        "object_type": parsed.object_type,
        "headers": delivery.headers,
        "signature_state": delivery.signature_state,
        "item_counts": parsed.counts(),
        "unparsed": pg_safe(parsed.unparsed),
        "processing_status": status,
        "last_error": delivery.error,
        "lock": delivery.job_lock,
    }
    if delivery.error is None:
        for spec in TABLES:
            if events := getattr(parsed, spec.kind):
                document[spec.kind] = events
    return document


def _dumps(documents: list[dict[str, Any]]) -> str:
    try:
        return orjson.dumps(documents).decode()
    except TypeError:
        # orjson refuses integers beyond 64 bits; the standard library writes them (rare, so its speed is fine).
        return json.dumps(documents, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _recordset(kind: str, columns: Sequence[Column]) -> str:
    definition = ", ".join(f"{name} {pg_type}" for name, pg_type in columns)
    return f"jsonb_to_recordset(b.d->'{kind}') AS t({definition})"


# A body whose processable items (messages, comments, lead ads) were all stored before is a redelivery in a new
# envelope: it is kept (it is what Meta sent) but queues no job.
_ALREADY_STORED = " AND ".join(
    f"""NOT EXISTS (SELECT 1 FROM jsonb_to_recordset(d->'{kind}') AS k(channel text, dedup_key text)
                   WHERE NOT EXISTS (SELECT 1 FROM crm.{table} x
                                     WHERE x.channel = k.channel AND x.dedup_key = k.dedup_key))"""
    for kind, table in (("messages", "messages"), ("comments", "social_comments"), ("leads", "lead_ad_submissions"))
)

_RAW_CTES = f"""batch AS (SELECT value AS d FROM jsonb_array_elements(%(batch)s::jsonb)),
raw_in AS (
    SELECT decode(d->>'sha', 'hex') AS sha, convert_to(d->>'body', 'UTF8') AS body,
           d->>'object_type' AS object_type, d->'headers' AS headers, d->>'signature_state' AS signature_state,
           d->'item_counts' AS item_counts, d->'unparsed' AS unparsed,
           CASE WHEN d->>'processing_status' = 'queued' AND {_ALREADY_STORED} THEN 'no_action'
                ELSE d->>'processing_status' END AS processing_status,
           d->>'last_error' AS last_error, d->>'lock' AS lock
    FROM batch),
ins_raw AS (
    INSERT INTO crm.raw_webhook_events (body_sha256, body, object_type, headers, signature_state, item_counts,
        unparsed, processing_status, last_error, processed_at)
    SELECT sha, body, object_type, headers, signature_state, item_counts, unparsed, processing_status,
           last_error, CASE WHEN processing_status = 'no_action' THEN now() END
    FROM raw_in
    ORDER BY sha
    ON CONFLICT (body_sha256) DO NOTHING
    RETURNING id, body_sha256, processing_status)"""


_EXISTING_RAW_CTES = """batch AS (SELECT value AS d FROM jsonb_array_elements(%(batch)s::jsonb)),
ins_raw AS (
    SELECT id, body_sha256, 'renormalized'::text AS processing_status FROM crm.raw_webhook_events
    WHERE body_sha256 IN (SELECT decode(d->>'sha', 'hex') FROM batch))"""


def build_statement(deliveries: Sequence[IncomingDelivery],
                    existing_raw: bool = False) -> tuple[str, dict[str, Any]]:
    """SQL + parameters for a batch with unique bodies. Only the tables the batch touches appear, so the few
    statement shapes that occur are prepared once per connection. With `existing_raw`, the raw rows are already
    stored (a dead letter being recovered): only the normalized rows are inserted, and no job is queued."""
    documents = [_document(d) for d in deliveries]
    params: dict[str, Any] = {"batch": _dumps(documents)}
    ctes = [_EXISTING_RAW_CTES if existing_raw else _RAW_CTES]
    selects = ["SELECT 'raw' AS kind, id, body_sha256 AS sha, processing_status AS note FROM ins_raw"]
    present = {kind for document in documents for kind in document}
    for spec in TABLES:
        if spec.kind not in present:
            continue
        column_list = ", ".join(name for name, _ in spec.columns)
        ctes.append(f"""ins_{spec.kind} AS (
            INSERT INTO crm.{spec.table} (raw_event_id, {column_list})
            SELECT r.id, {", ".join(f"t.{name}" for name, _ in spec.columns)}
            FROM batch b
            JOIN ins_raw r ON r.body_sha256 = decode(b.d->>'sha', 'hex')
            CROSS JOIN LATERAL {_recordset(spec.kind, spec.columns)}
            ON CONFLICT (channel, dedup_key) DO NOTHING
            RETURNING id, raw_event_id)""")
        selects.append(
            f"SELECT '{spec.kind}', i.id, r.body_sha256, NULL FROM ins_{spec.kind} i "
            "JOIN ins_raw r ON r.id = i.raw_event_id"
        )
        if spec.kind == "statuses":
            has_watermark = any(
                status.watermark is not None and status.external_message_id is None
                for delivery in deliveries for status in delivery.parsed.statuses
            )
            ctes.extend(_status_updates(spec.columns, has_watermark))
    if not existing_raw:
        ctes.append(f"""ins_jobs AS (
        INSERT INTO crm.procrastinate_jobs (queue_name, task_name, priority, lock, args)
        SELECT '{INBOUND_QUEUE}', '{PROCESS_TASK}', 0, t.lock, jsonb_build_object('raw_event_id', r.id)
        FROM ins_raw r JOIN raw_in t ON t.sha = r.body_sha256
        WHERE r.processing_status = 'queued'
        RETURNING id)""")
    sql = "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL ".join(selects)
    return sql, params


def _status_updates(columns: Sequence[Column], has_watermark: bool) -> list[str]:
    """Move each message's current status forward (never back): by message id, and by Messenger watermark.
    Applied for redelivered statuses too: moving forward is idempotent."""
    statuses = f"batch b CROSS JOIN LATERAL {_recordset('statuses', columns)}"
    ctes = [f"""upd_status AS (
        UPDATE crm.messages m SET status = s.status, status_rank = s.status_rank,
            status_at = COALESCE(s.occurred_at, now()),
            status_error = COALESCE(s.errors, m.status_error),
            deleted_at = CASE WHEN s.status = 'deleted' THEN COALESCE(s.occurred_at, now()) ELSE m.deleted_at END
        FROM (SELECT DISTINCT ON (t.channel, t.external_message_id) t.* FROM {statuses}
              WHERE t.external_message_id IS NOT NULL
              ORDER BY t.channel, t.external_message_id, t.status_rank DESC) s
        WHERE m.channel = s.channel AND m.external_id = s.external_message_id
          AND m.status_rank < s.status_rank
        RETURNING m.id)"""]
    if has_watermark:
        ctes.append(f"""upd_watermark AS (
            UPDATE crm.messages m SET status = s.status, status_rank = s.status_rank,
                status_at = COALESCE(s.occurred_at, now())
            FROM (SELECT DISTINCT ON (t.channel, t.counterpart_external_id) t.* FROM {statuses}
                  WHERE t.external_message_id IS NULL AND t.watermark IS NOT NULL
                  ORDER BY t.channel, t.counterpart_external_id, t.status_rank DESC, t.watermark DESC) s
            WHERE m.channel = s.channel AND m.counterpart_external_id = s.counterpart_external_id
              AND m.direction = 'outbound' AND m.sent_at <= s.watermark AND m.status_rank < s.status_rank
            RETURNING m.id)""")
    return ctes


async def store_batch(conn: AsyncConnection, deliveries: Sequence[IncomingDelivery]) -> list[StoredDelivery]:
    """Store a batch; results come back in the order given. Bodies repeated inside the batch are stored once."""
    unique: dict[bytes, IncomingDelivery] = {}
    for delivery in deliveries:
        unique.setdefault(delivery.sha256, delivery)
    sql, params = build_statement([unique[sha] for sha in sorted(unique)])
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
