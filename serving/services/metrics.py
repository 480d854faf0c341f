"""Operational metrics: what `GET /metrics` exposes in Prometheus' text format, and what `crm status` reads.

Two sources, chosen so that every figure is right whichever API worker answers the scrape:

- **Webhook deliveries by outcome** only exist in the API processes (a 401 or a 413 leaves no row). They are a
  prometheus_client counter in multiprocess mode: `crm serve` points PROMETHEUS_MULTIPROC_DIR at a folder it empties
  on start, every uvicorn worker writes its counts there, and a scrape sums them. Without the variable (one worker,
  tests) the counter is this process's own.
- **Everything else is read from the database at scrape time** (queue depth and age, dead letters, outbound,
  automation events, LLM calls and cost, media, reply latency), so the worker processes need no exporter of their
  own. The scrape stays cheap: queue and backlog figures come from partial indexes over the pending rows, and the
  "last hour" figures read only the rows after a boundary id found by a short backward walk of the primary key
  (ids grow with `created_at`), never a scan of a whole table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm.db.models.outbound import OUTBOUND_STATUSES

log = structlog.get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# The webhook's answers: 200 stored / duplicate, 401, 400 (not JSON, not a webhook object), 413, 503.
WEBHOOK_OUTCOMES = ("stored", "duplicate", "invalid_signature", "bad_request", "too_large", "unavailable")
# procrastinate queues the worker serves; listed so an idle queue still reports 0.
KNOWN_QUEUES = ("inbound", "outbound", "maintenance", "content", "media")
WINDOW_S = 3600  # the "last hour" of the windowed gauges
LIVE_WORKER_S = 60  # a worker whose heartbeat is older than this is not counted as alive
# Inbound message stored -> reply handed to the Graph client; the budget is p95 < 0.5 s.
REPLY_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
SCRAPE_STATEMENT_TIMEOUT_MS = 5000
AUTOMATION_STATUSES = ("pending", "delivered", "dead_letter")
MEDIA_STATUSES = ("pending", "stored", "failed", "rejected", "purged", "erased")

if _dir := os.environ.get(MULTIPROC_ENV):
    os.makedirs(_dir, exist_ok=True)  # the counter's first value opens a file there

_WEBHOOK_DELIVERIES = Counter("crm_webhook_deliveries", "Meta webhook deliveries answered, by outcome.",
                              ["outcome"], registry=None)
_WEBHOOK_CHILDREN = {outcome: _WEBHOOK_DELIVERIES.labels(outcome) for outcome in WEBHOOK_OUTCOMES}


def count_webhook(outcome: str) -> None:
    """One webhook answered (called on the hot path: a dict lookup and an increment)."""
    _WEBHOOK_CHILDREN[outcome].inc()


# -- what the database says -----------------------------------------------------------------------------------

@dataclass
class QueueStats:
    queue: str
    ready: int = 0  # todo and due
    scheduled: int = 0  # todo, due later (debounced replies, retries waiting for their backoff)
    doing: int = 0
    oldest_ready_age_s: float = 0.0


@dataclass
class ReplyLatency:
    buckets: list[tuple[float, int]] = field(default_factory=list)  # cumulative counts, one per upper bound
    count: int = 0
    total_s: float = 0.0


@dataclass
class Snapshot:
    queues: list[QueueStats]
    raw_events: dict[str, int]  # queued / retrying / dead_letter (processed ones are not counted)
    workers_alive: int
    outbound_last_hour: dict[str, int]
    automation_last_hour: dict[str, int]
    automation_pending: int
    llm_last_hour: dict[tuple[str, str], tuple[int, float]]  # (provider, outcome) -> (calls, cost in USD)
    media_last_hour: dict[str, int] | None  # None: no media table (older schema)
    media_pending: int | None
    reply_latency: ReplyLatency

    @property
    def dead_letters(self) -> int:
        return self.raw_events.get("dead_letter", 0)


async def queue_stats(conn: AsyncConnection) -> list[QueueStats]:
    """Depth per queue and the age of the oldest job ready to run (only todo/doing rows: a partial index)."""
    rows = (await conn.execute(text("""
        WITH pending AS (
            SELECT queue_name,
                   count(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())) AS ready,
                   count(*) FILTER (WHERE status = 'todo' AND scheduled_at > now()) AS scheduled,
                   count(*) FILTER (WHERE status = 'doing') AS doing,
                   min(id) FILTER (WHERE status = 'todo' AND scheduled_at IS NULL) AS first_unscheduled_id,
                   min(scheduled_at) FILTER (WHERE status = 'todo' AND scheduled_at <= now()) AS first_due_at
            FROM crm.procrastinate_jobs
            WHERE status IN ('todo', 'doing')
            GROUP BY queue_name
        )
        SELECT p.queue_name, p.ready, p.scheduled, p.doing,
               coalesce(extract(epoch FROM now() - least(p.first_due_at, d.deferred_at)), 0) AS oldest_age_s
        FROM pending p
        LEFT JOIN LATERAL (
            SELECT min(e.at) AS deferred_at FROM crm.procrastinate_events e
            WHERE e.job_id = p.first_unscheduled_id AND e.type = 'deferred'
        ) d ON true
    """))).all()
    stats = {queue: QueueStats(queue) for queue in KNOWN_QUEUES}
    for row in rows:
        stats[row.queue_name] = QueueStats(row.queue_name, row.ready, row.scheduled, row.doing,
                                           max(0.0, float(row.oldest_age_s)))
    return sorted(stats.values(), key=lambda s: s.queue)


async def raw_event_backlog(conn: AsyncConnection) -> dict[str, int]:
    """Raw webhook events not (yet) processed, by state; `dead_letter` is what gave up (partial index)."""
    rows = (await conn.execute(text(
        "SELECT processing_status, count(*) AS n FROM crm.raw_webhook_events "
        "WHERE processing_status <> 'processed' AND processing_status <> 'no_action' GROUP BY processing_status"
    ))).all()
    backlog = {"queued": 0, "retrying": 0, "dead_letter": 0}
    backlog.update({row.processing_status: row.n for row in rows})
    return backlog


async def workers_alive(conn: AsyncConnection, within_s: int = LIVE_WORKER_S) -> int:
    """Worker processes whose procrastinate heartbeat is recent (indexed on last_heartbeat)."""
    return (await conn.execute(text(
        "SELECT count(*) FROM crm.procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => :s)"
    ), {"s": within_s})).scalar_one()


async def first_id_since(conn: AsyncConnection, table: str, column: str, seconds: int = WINDOW_S) -> int:
    """The id after which a table's rows are newer than `seconds`: walks the primary key backwards from the newest
    row to the first older one (as many rows as the window holds), so the window's query is an index range scan
    even on tables without an index on the time column. `table` and `column` are ours, never user input."""
    boundary = (await conn.execute(text(
        f"SELECT id FROM crm.{table} WHERE {column} < now() - make_interval(secs => :s) ORDER BY id DESC LIMIT 1"
    ), {"s": seconds})).scalar()
    return int(boundary or 0)


async def _by_status_last_hour(conn: AsyncConnection, table: str, known: tuple[str, ...]) -> dict[str, int]:
    """Rows created in the last hour by status; the known statuses report 0 rather than vanish."""
    after = await first_id_since(conn, table, "created_at")
    rows = (await conn.execute(text(
        f"SELECT status, count(*) AS n FROM crm.{table} "
        "WHERE id > :after AND created_at >= now() - make_interval(secs => :s) GROUP BY status"
    ), {"after": after, "s": WINDOW_S})).all()
    return {**dict.fromkeys(known, 0), **{row.status: row.n for row in rows}}


async def outbound_last_hour(conn: AsyncConnection) -> dict[str, int]:
    """Outbound messages created in the last hour, by status (`failed` is what needs a person)."""
    return await _by_status_last_hour(conn, "outbound_messages", OUTBOUND_STATUSES)


async def reply_latency(conn: AsyncConnection) -> ReplyLatency:
    """Inbound message stored (messages.created_at) -> its reply handed to the Graph client (the send attempt's
    start, outbound_messages.sending_started_at), for replies created in the last hour."""
    after = await first_id_since(conn, "outbound_messages", "created_at")
    bounds = {f"b{i}": bound for i, bound in enumerate(REPLY_LATENCY_BUCKETS)}
    filters = ", ".join(f"count(*) FILTER (WHERE latency <= :{name}) AS {name}" for name in bounds)
    row = (await conn.execute(text(f"""
        SELECT count(*) AS n, coalesce(sum(latency), 0) AS total, {filters}
        FROM (
            SELECT greatest(extract(epoch FROM o.sending_started_at - m.created_at), 0) AS latency
            FROM crm.outbound_messages o JOIN crm.messages m ON m.id = o.in_reply_to_message_id
            WHERE o.id > :after AND o.created_at >= now() - make_interval(secs => :s)
              AND o.sending_started_at IS NOT NULL
        ) replies
    """), {"after": after, "s": WINDOW_S, **bounds})).one()
    return ReplyLatency(buckets=[(bound, getattr(row, name)) for name, bound in bounds.items()],
                        count=row.n, total_s=float(row.total))


async def _table_exists(conn: AsyncConnection, table: str) -> bool:
    return (await conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"crm.{table}"})).scalar_one()


async def read_snapshot(conn: AsyncConnection) -> Snapshot:
    """Every database-derived figure, in one read-only transaction with a statement timeout."""
    await conn.execute(text("SET TRANSACTION READ ONLY"))
    await conn.execute(text(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}"))
    llm_rows = (await conn.execute(text(
        "SELECT provider, outcome, count(*) AS n, coalesce(sum(estimated_cost_usd), 0) AS cost FROM crm.llm_calls "
        "WHERE created_at >= now() - make_interval(secs => :s) GROUP BY provider, outcome"  # indexed on created_at
    ), {"s": WINDOW_S})).all()
    media_last_hour = media_pending = None
    if await _table_exists(conn, "media_attachments"):
        media_last_hour = await _by_status_last_hour(conn, "media_attachments", MEDIA_STATUSES)
        media_pending = (await conn.execute(text(
            "SELECT count(*) FROM crm.media_attachments WHERE status = 'pending'"))).scalar_one()
    return Snapshot(
        queues=await queue_stats(conn),
        raw_events=await raw_event_backlog(conn),
        workers_alive=await workers_alive(conn),
        outbound_last_hour=await outbound_last_hour(conn),
        automation_last_hour=await _by_status_last_hour(conn, "automation_events", AUTOMATION_STATUSES),
        automation_pending=(await conn.execute(text(
            "SELECT count(*) FROM crm.automation_events WHERE status = 'pending'"))).scalar_one(),
        llm_last_hour={(row.provider, row.outcome): (row.n, float(row.cost)) for row in llm_rows},
        media_last_hour=media_last_hour,
        media_pending=media_pending,
        reply_latency=await reply_latency(conn),
    )


# -- exposition ------------------------------------------------------------------------------------------------

def _gauge(name: str, doc: str, labels: Iterable[str] = (), samples: Iterable[tuple[list[str], float]] = ()
           ) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    for values, value in samples:
        family.add_metric(values, value)
    return family


class SnapshotCollector(Collector):
    """Turns one database snapshot into metric families (or `crm_database_up 0` when it could not be read)."""

    def __init__(self, snapshot: Snapshot | None):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield _gauge("crm_database_up", "1 when the database answered this scrape's queries.",
                     samples=[([], 1.0 if self.snapshot else 0.0)])
        snap = self.snapshot
        if snap is None:
            return
        yield _gauge("crm_queue_jobs", "Jobs in the work queue: ready (due), scheduled (due later), doing.",
                     ["queue", "state"],
                     [([q.queue, state], getattr(q, state)) for q in snap.queues
                      for state in ("ready", "scheduled", "doing")])
        yield _gauge("crm_queue_oldest_job_age_seconds", "How long the oldest ready job has been waiting (0: none).",
                     ["queue"], [([q.queue], q.oldest_ready_age_s) for q in snap.queues])
        yield _gauge("crm_workers_alive", f"Worker processes with a heartbeat in the last {LIVE_WORKER_S} s.",
                     samples=[([], snap.workers_alive)])
        yield _gauge("crm_dead_letter_events", "Raw webhook events that gave up (`crm events list --status "
                     "dead_letter`; requeue with `crm events retry`).", samples=[([], snap.dead_letters)])
        yield _gauge("crm_raw_webhook_events_unprocessed", "Raw webhook events not processed yet, by state.",
                     ["status"], [([status], n) for status, n in sorted(snap.raw_events.items())])
        yield _gauge("crm_outbound_messages_last_hour", "Outbound messages created in the last hour, by status.",
                     ["status"], [([status], n) for status, n in sorted(snap.outbound_last_hour.items())])
        yield _gauge("crm_automation_events_last_hour", "Automation events created in the last hour, by status.",
                     ["status"], [([status], n) for status, n in sorted(snap.automation_last_hour.items())])
        yield _gauge("crm_automation_events_pending", "Automation events waiting for delivery (any age).",
                     samples=[([], snap.automation_pending)])
        yield _gauge("crm_llm_calls_last_hour", "LLM calls (and local stand-ins) in the last hour.",
                     ["provider", "outcome"],
                     [([provider, outcome], calls) for (provider, outcome), (calls, _) in
                      sorted(snap.llm_last_hour.items())])
        cost: dict[str, float] = {}
        for (provider, _), (_, usd) in snap.llm_last_hour.items():
            cost[provider] = cost.get(provider, 0.0) + usd
        yield _gauge("crm_llm_cost_usd_last_hour", "Estimated LLM cost of the last hour, in US dollars.",
                     ["provider"], [([provider], usd) for provider, usd in sorted(cost.items())])
        if snap.media_last_hour is not None:
            yield _gauge("crm_media_attachments_last_hour", "Media attachments created in the last hour, by status.",
                         ["status"], [([status], n) for status, n in sorted(snap.media_last_hour.items())])
            yield _gauge("crm_media_attachments_pending", "Media attachments waiting to be downloaded (any age).",
                         samples=[([], snap.media_pending or 0)])
        latency = snap.reply_latency
        yield GaugeHistogramMetricFamily(
            "crm_reply_latency_seconds",
            "Inbound message stored -> reply handed to the Graph client, replies of the last hour.",
            buckets=[*((_bound(b), n) for b, n in latency.buckets), ("+Inf", latency.count)],
            gsum_value=latency.total_s,
        )


def _bound(value: float) -> str:
    return repr(float(value))


def _webhook_collector() -> Collector:
    """The webhook counter summed over every API worker (multiprocess mode), or this process's own."""
    if path := os.environ.get(MULTIPROC_ENV):
        from prometheus_client.multiprocess import MultiProcessCollector

        return MultiProcessCollector(None, path=path)
    return _WEBHOOK_DELIVERIES


async def take_snapshot(engine: AsyncEngine) -> Snapshot | None:
    try:
        async with engine.connect() as conn, conn.begin():
            return await read_snapshot(conn)
    except Exception as exc:  # noqa: BLE001 - a scrape reports the database as down rather than failing
        log.warning("metrics.database_unavailable", error=str(exc).splitlines()[0][:300] if str(exc) else
                    type(exc).__name__)
        return None


async def render_metrics(engine: AsyncEngine) -> bytes:
    """The Prometheus text exposition of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_webhook_collector())
    registry.register(SnapshotCollector(await take_snapshot(engine)))
    return generate_latest(registry)


def parse_samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition, for tests and scripts."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}
