"""Group commit for webhooks: concurrent requests share one statement and one commit.

Each request hands its parsed delivery to the writer and waits for the commit that includes it, so a 200 is
still only sent after the event is durable. A few flusher tasks each hold one connection; while they are busy,
new deliveries queue up and go out together in the next batch, which is what lets one commit serve many
requests under load while a lone request still gets its own transaction at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from serving.services.ingest.store import IncomingDelivery, StoredDelivery, store_batch

log = structlog.get_logger(__name__)

# Errors that say the database is not available (503, Meta retries), as opposed to a body it cannot take.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.errors.InsufficientResources, PoolTimeout, OSError)
# Data errors belong to one body: SQLSTATE classes 22 (data exception) and 23 (integrity constraint).
_BODY_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)
_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


class DatabaseUnavailable(RuntimeError):
    """The event could not be committed; the webhook answers 503 so Meta retries."""


def _consume_exception(future: asyncio.Future[StoredDelivery]) -> None:
    """Mark a late failure as seen when its request already gave up waiting."""
    if not future.cancelled():
        future.exception()


Pending = tuple[IncomingDelivery, asyncio.Future[StoredDelivery]]


class IngestWriter:
    def __init__(self, pool: AsyncConnectionPool, flushers: int = 4, max_batch: int = 256,
                 timeout_s: float = 5.0, max_pending: int = 5000):
        self._pool = pool
        self._flushers = flushers
        self._max_batch = max_batch
        self._timeout_s = timeout_s
        self._max_pending = max_pending
        self._pending: list[Pending] = []
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._flush_loop(), name=f"ingest-flusher-{i}")
                       for i in range(self._flushers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, future in self._pending:
            if not future.done():
                future.set_exception(DatabaseUnavailable("server shutting down"))
        self._pending.clear()

    async def write(self, delivery: IncomingDelivery) -> StoredDelivery:
        if len(self._pending) >= self._max_pending:
            # The database is not keeping up (or is down): refuse at once rather than queue without bound.
            raise DatabaseUnavailable(f"{len(self._pending)} deliveries already waiting for the database")
        future: asyncio.Future[StoredDelivery] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume_exception)
        item = (delivery, future)
        self._pending.append(item)
        self._wakeup.set()
        try:
            # shield: a timed-out request must not cancel the batch other requests are waiting on.
            return await asyncio.wait_for(asyncio.shield(future), self._timeout_s)
        except TimeoutError as exc:
            # Not taken by a flusher yet: drop it, nobody waits for it any more (Meta will retry it).
            if item in self._pending:
                self._pending.remove(item)
            raise DatabaseUnavailable(f"no commit within {self._timeout_s:.1f}s") from exc

    async def _flush_loop(self) -> None:
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            await self._flush(batch)

    async def _flush(self, batch: Sequence[Pending], attempts: int = 3) -> None:
        try:
            async with self._pool.connection() as conn:
                results = await store_batch(conn, [delivery for delivery, _ in batch])
        except _RETRYABLE as exc:
            if attempts > 1:
                log.info("ingest.retrying_batch", batch=len(batch), reason=type(exc).__name__)
                await self._flush(batch, attempts - 1)
            else:
                self._fail(batch, DatabaseUnavailable(str(exc)))
            return
        except _UNAVAILABLE as exc:
            log.warning("ingest.database_unavailable", batch=len(batch), error=_first_line(exc))
            self._fail(batch, DatabaseUnavailable(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a body we cannot store must not take its batch down with it
            await self._isolate(batch, exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _isolate(self, batch: Sequence[Pending], exc: Exception) -> None:
        """Retry one by one so only the offending body is affected. A body the database refuses as data (or that
        cannot be serialized) is kept as a dead letter: stored, visible, requeueable, never refused forever.
        Anything else (a missing column, a permission) is the server's fault: 503, and the body is not blamed."""
        if len(batch) > 1:
            for item in batch:
                await self._flush([item])
            return
        delivery, future = batch[0]
        if isinstance(exc, psycopg.Error) and not isinstance(exc, _BODY_ERRORS):
            log.error("ingest.store_failed", error=_first_line(exc), sqlstate=exc.sqlstate)
            self._fail(batch, DatabaseUnavailable(_first_line(exc)))
            return
        if delivery.error is not None:  # already the dead-letter attempt
            log.error("ingest.dead_letter_failed", error=_first_line(exc))
            self._fail(batch, DatabaseUnavailable(_first_line(exc)))
            return
        delivery.error = f"not storable as parsed: {type(exc).__name__}: {_first_line(exc)}"[:2000]
        log.error("ingest.body_kept_as_dead_letter", error=delivery.error)
        await self._flush(batch)

    @staticmethod
    def _fail(batch: Sequence[Pending], exc: Exception) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
