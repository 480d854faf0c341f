"""The durable work queue (procrastinate on PostgreSQL) and its tasks.

Failures are retried with exponential backoff; after the last attempt the raw event is marked `dead_letter`
with its error (visible with `crm events list --status dead_letter`, requeued with `crm events retry ID`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import procrastinate
import sqlalchemy.exc
import structlog
from procrastinate import JobContext, RetryStrategy
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.engine import CONNECTION_OPTIONS, create_engine, session_factory
from crm.db.models import OutboundMessage, RawWebhookEvent
from crm.db.urls import plain_url
from crm.settings import get_settings
from serving.services import closure, comment_responder, content_publisher, outbox, pipeline, retention
from serving.services.channels.graph import GraphClient
from serving.services.channels.graph_social import SocialGraph
from serving.services.channels.throttle import SendThrottle
from serving.services.ingest.store import INBOUND_QUEUE, PROCESS_TASK
from serving.services.media import attachments as media_attachments
from serving.services.media.downloader import download_attachment
from serving.services.media.storage import store_from_settings
from serving.services.privacy import suppression
from ml.registry import registry_dsn
from serving.services.automation.dispatcher import dispatch_due
from serving.services.lead_model import keep_fresh, refresh_safely
from serving.services.nlu_champion import NluChampion
from serving.services.understanding import Understanding

MAINTENANCE_QUEUE = "maintenance"
# Workers send a heartbeat every few seconds; a job whose worker has been silent this long is orphaned.
STALLED_AFTER_S = 60.0

log = structlog.get_logger(__name__)
_settings = get_settings()

retry_strategy = RetryStrategy(max_attempts=_settings.worker_max_attempts,
                               exponential_wait=_settings.worker_retry_base_s)

# The connector is replaced at start-up (run_worker) with one pointing at the resolved database.
app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=["serving.worker"])

_sessions: async_sessionmaker[AsyncSession] | None = None
_understanding: Understanding | None = None
_graph: GraphClient | None = None
_throttle: SendThrottle | None = None


def _session_factory() -> async_sessionmaker[AsyncSession]:
    if _sessions is None:
        raise RuntimeError("worker database not configured: start it with `crm worker`")
    return _sessions


@app.task(name=PROCESS_TASK, queue=INBOUND_QUEUE, retry=retry_strategy, pass_context=True)
async def process_raw_event(context: JobContext, raw_event_id: int, renormalize: bool = False) -> None:
    sessions = _session_factory()
    inline: list[int] = []
    try:
        async with sessions() as session:
            session.info[outbox.INLINE_SENDS] = inline
            await pipeline.process_raw_event(session, raw_event_id, renormalize=renormalize,
                                             understanding=_understanding)
    except Exception as exc:
        strategy = app.tasks[PROCESS_TASK].retry_strategy
        final = strategy is None or strategy.get_retry_decision(exception=exc, job=context.job) is None
        await record_failure(sessions, raw_event_id, exc, final)
        raise
    # Committed: send the replies now, in order, under this job's customer lock (the next message of the same
    # customer waits for it). Whatever cannot go now gets a send job.
    for outbound_id in inline:
        await _send_inline(sessions, outbound_id)


async def _send_inline(sessions: async_sessionmaker[AsyncSession], outbound_id: int) -> None:
    try:
        if _graph is None:
            raise RuntimeError("worker Graph client not configured")
        await outbox.send_outbound(sessions, _graph, get_settings(), outbound_id, throttle=_throttle)
    except Exception as exc:  # retried by a send job; its own logic settles the row
        log.warning("worker.inline_send_deferred", outbound_id=outbound_id, error=f"{type(exc).__name__}: {exc}")
        async with sessions() as session:
            row = await session.get(OutboundMessage, outbound_id)
            await outbox.defer_send(session, outbound_id, row.conversation_id if row else None,
                                    delay_s=_settings.worker_retry_base_s)
            await session.commit()


async def record_failure(sessions: async_sessionmaker[AsyncSession], raw_event_id: int, exc: BaseException,
                         final: bool) -> None:
    status = "dead_letter" if final else "retrying"
    error = f"{type(exc).__name__}: {exc}"[:2000]
    async with sessions() as session:
        await session.execute(
            update(RawWebhookEvent)
            .where(RawWebhookEvent.id == raw_event_id)
            .values(processing_status=status, last_error=error, attempts=RawWebhookEvent.attempts + 1)
        )
        await session.commit()
    log_method = log.error if final else log.warning
    log_method("worker.event_failed", raw_event_id=raw_event_id, status=status, error=error)


# Transient Graph failures and a database that went away are retried; anything else is a bug or a permanent
# failure, and the row is settled at once (see outbox.give_up).
send_retry = RetryStrategy(max_attempts=10, exponential_wait=2,
                           retry_exceptions=[outbox.RetryLater, sqlalchemy.exc.OperationalError,
                                             sqlalchemy.exc.InterfaceError])


@app.task(name=outbox.SEND_TASK, queue=outbox.OUTBOUND_QUEUE, retry=send_retry, pass_context=True)
async def send_outbound(context: JobContext, outbound_id: int) -> None:
    if _graph is None:
        raise RuntimeError("worker Graph client not configured: start it with `crm worker`")
    sessions = _session_factory()
    try:
        await outbox.send_outbound(sessions, _graph, get_settings(), outbound_id, throttle=_throttle)
    except Exception as exc:
        strategy = app.tasks[outbox.SEND_TASK].retry_strategy
        retried = strategy is not None and strategy.get_retry_decision(exception=exc, job=context.job) is not None
        if not retried:  # no row may stay queued or sending forever
            await outbox.give_up(sessions, outbound_id, f"{type(exc).__name__}: {exc}")
        raise


@app.task(name=content_publisher.PUBLISH_TASK, queue=content_publisher.CONTENT_QUEUE, retry=send_retry,
          pass_context=True)
async def publish_post(context: JobContext, post_id: int) -> None:
    """Flow 15: publish a due post on its channels (a retry comes back as a new job, deferred by the publisher)."""
    if _graph is None:
        raise RuntimeError("worker Graph client not configured: start it with `crm worker`")
    outcome = await content_publisher.publish_post(_session_factory(), SocialGraph(_graph), get_settings(), post_id)
    log.info("worker.post_publish", post_id=post_id, status=outcome.status,
             retry_at=outcome.retry_at.isoformat() if outcome.retry_at else None)


@app.task(name=comment_responder.ACT_TASK, queue=content_publisher.CONTENT_QUEUE, retry=send_retry,
          pass_context=True)
async def act_on_comment(context: JobContext, action_id: int) -> None:
    """Flow 17: the auto-responder's reply, private reply, hide or escalation for one comment."""
    if _graph is None:
        raise RuntimeError("worker Graph client not configured: start it with `crm worker`")
    await comment_responder.perform(_session_factory(), SocialGraph(_graph), get_settings(), action_id)


async def _in_session(work):  # noqa: ANN001, ANN202 - an async function of a session
    """One maintenance sweep in its own committed transaction."""
    async with _session_factory()() as session:
        result = await work(session)
        await session.commit()
    return result


@app.periodic(cron="* * * * *")
@app.task(name="close_conversations", queue=MAINTENANCE_QUEUE, pass_context=True)
async def close_conversations_task(context: JobContext, timestamp: int) -> None:
    """Flow 9: close resolved and idle conversations, asking for a rating where the window allows."""
    report = await _in_session(lambda session: closure.close_conversations(session, get_settings()))
    if report.closed:
        log.info("worker.conversations_closed", closed=report.closed, csat_sent=report.csat_sent)


@app.periodic(cron="* * * * *")
@app.task(name="resend_window_failures", queue=MAINTENANCE_QUEUE, pass_context=True)
async def resend_window_failures_task(context: JobContext, timestamp: int) -> None:
    """Messages Meta refused after the fact (status webhook 131047) go again as an approved template."""
    if handled := await _in_session(outbox.resend_window_failures):
        log.info("worker.window_failures_resent", count=handled)


@app.periodic(cron="* * * * *")
@app.task(name="requeue_orphaned_sends", queue=MAINTENANCE_QUEUE, pass_context=True)
async def requeue_orphaned_sends_task(context: JobContext, timestamp: int) -> None:
    """Replies whose worker died between its commit and the inline send get a send job."""
    if count := await _in_session(outbox.requeue_orphans):
        log.warning("worker.orphaned_sends_requeued", count=count)


@app.periodic(cron="* * * * *")
@app.task(name="dispatch_automation_events", queue=MAINTENANCE_QUEUE, pass_context=True)
async def dispatch_automation_events_task(context: JobContext, timestamp: int) -> None:
    """Automation events (follow-ups, carts, payments, ...) to n8n, or to the local actions without n8n."""
    settings = get_settings()
    report = await _in_session(lambda session: dispatch_due(session, settings, datetime.now(UTC)))
    if report.delivered or report.failed or report.dead:
        log.info("worker.automation_dispatched", delivered=report.delivered, deferred=report.deferred,
                 failed=report.failed, dead_letter=report.dead)


@app.periodic(cron="* * * * *")
@app.task(name="requeue_stalled_content", queue=MAINTENANCE_QUEUE, pass_context=True)
async def requeue_stalled_content_task(context: JobContext, timestamp: int) -> None:
    """Due posts and comment actions whose job died (an unexpected error, a killed worker) get a new one."""
    now = datetime.now(UTC)
    await _in_session(lambda session: content_publisher.requeue_stalled_posts(session, now))
    await _in_session(lambda session: comment_responder.requeue_stalled(session, get_settings(), now))


@app.periodic(cron="* * * * *")
@app.task(name="scrub_late_statuses", queue=MAINTENANCE_QUEUE, pass_context=True)
async def scrub_late_statuses_task(context: JobContext, timestamp: int) -> None:
    """Read receipts Meta sends after a person was forgotten lose the recipient (statuses are stored at ingest)."""
    if count := await _in_session(suppression.scrub_late_statuses):
        log.info("worker.late_statuses_scrubbed", count=count)


@app.periodic(cron="17 * * * *")
@app.task(name="purge_expired_data", queue=MAINTENANCE_QUEUE, pass_context=True)
async def purge_expired_data_task(context: JobContext, timestamp: int) -> None:
    """Retention: raw webhook bodies and media past their days are dropped (the rows stay, anonymous)."""
    settings = get_settings()
    store = store_from_settings(settings)
    for _ in range(100):  # batches of 1,000 until nothing is left
        report = await _in_session(lambda session: retention.purge_expired(session, settings, store,
                                                                           datetime.now(UTC)))
        if report.files:  # committed: now the files can go
            await _in_session(lambda session: retention.delete_unused_files(session, store, report.files))
        if not (report.raw_bodies or report.media_files):
            break


@app.task(name=media_attachments.DOWNLOAD_TASK, queue=media_attachments.MEDIA_QUEUE, pass_context=True)
async def download_media(context: JobContext, attachment_id: int) -> None:
    """Inbound media: fetch one attachment from Meta and keep it; a failure defers its own next attempt."""
    if _graph is None:
        raise RuntimeError("worker Graph client not configured: start it with `crm worker`")
    await download_attachment(_session_factory(), _graph, get_settings(), attachment_id)


@app.periodic(cron="* * * * *")
@app.task(name="requeue_media_downloads", queue=MAINTENANCE_QUEUE, pass_context=True)
async def requeue_media_downloads_task(context: JobContext, timestamp: int) -> None:
    """Pending media whose job is gone (a crash, a killed worker) get a new one, or are given up."""
    settings = get_settings()
    await _in_session(lambda session: media_attachments.requeue_due(session, settings, datetime.now(UTC)))


@app.periodic(cron="* * * * *")
@app.task(name="retry_stalled_jobs", queue=MAINTENANCE_QUEUE, pass_context=True)
async def retry_stalled_jobs_task(context: JobContext, timestamp: int) -> None:
    await retry_stalled_jobs(context.app)


async def retry_stalled_jobs(worker_app: procrastinate.App) -> int:
    """Requeue jobs left `doing` by a worker that died (kill -9, OOM, host crash): otherwise the job, and every
    later job of the same customer (they share its lock), would wait forever."""
    stalled = list(await worker_app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_S))
    for job in stalled:
        await worker_app.job_manager.retry_job(job)
        log.warning("worker.stalled_job_requeued", job_id=job.id, task=job.task_name, args=job.task_kwargs)
    return len(stalled)


def build_connector(database_url: str) -> procrastinate.PsycopgConnector:
    return procrastinate.PsycopgConnector(
        conninfo=plain_url(database_url),
        kwargs={"options": CONNECTION_OPTIONS},
        min_size=1,
        max_size=4,
    )


@asynccontextmanager
async def worker_resources(database_url: str) -> AsyncIterator[procrastinate.App]:
    """Open the session factory and the queue connection for `database_url`."""
    global _sessions, _understanding, _graph, _throttle
    engine = create_engine(database_url, pool_size=max(2, _settings.worker_concurrency))
    _sessions = session_factory(engine)
    settings = get_settings()  # read now, not at import: the Graph base URL may point at the local sandbox
    _graph = GraphClient(settings.meta_graph_base_url, settings.meta_graph_version)
    # Each worker process takes its share of the per-number rate.
    _throttle = SendThrottle(settings.outbound_rate_per_number, settings.outbound_rate_per_recipient,
                             settings.outbound_recipient_burst, share=max(1, settings.worker_processes))
    if _understanding is None:
        _understanding = await asyncio.to_thread(Understanding.from_settings, _settings, lambda: _sessions)
    # Each worker process follows the promoted NLU models (MLflow @champion) itself.
    nlu = NluChampion(registry_dsn(settings.mlflow_tracking_uri, database_url), _understanding.local)
    await asyncio.to_thread(refresh_safely, nlu)
    refresher = asyncio.create_task(keep_fresh(nlu, settings.lead_model_refresh_s))
    try:
        with app.replace_connector(build_connector(database_url)) as worker_app:
            async with worker_app.open_async():
                yield worker_app
    finally:
        refresher.cancel()
        _sessions = None
        await _graph.aclose()
        _graph = None
        await engine.dispose()


async def run_worker(database_url: str, concurrency: int | None = None, wait: bool = True,
                     install_signal_handlers: bool = True) -> None:
    async with worker_resources(database_url) as worker_app:
        log.info("worker.started", concurrency=concurrency or _settings.worker_concurrency, wait=wait)
        if wait:
            await retry_stalled_jobs(worker_app)
        await worker_app.run_worker_async(
            queues=[INBOUND_QUEUE, outbox.OUTBOUND_QUEUE, MAINTENANCE_QUEUE, content_publisher.CONTENT_QUEUE,
                    media_attachments.MEDIA_QUEUE],
            shutdown_graceful_timeout=10.0,
            concurrency=concurrency or _settings.worker_concurrency,
            wait=wait,
            install_signal_handlers=install_signal_handlers,
            # Jobs of one customer share a lock; a freed lock sends no notification, so poll briskly.
            fetch_job_polling_interval=0.25,
        )


def main(database_url: str) -> None:
    asyncio.run(run_worker(database_url))
