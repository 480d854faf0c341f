"""Group commit for webhooks: concurrent requests share one statement and one commit.

Each request hands its parsed delivery to the writer and waits for the commit that includes it, so a 200 is
still only sent after the event is durable. A few flusher tasks each hold one connection; while they are busy,
new deliveries queue up and go out together in the next batch, which is what lets one fsync serve many
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


class DatabaseUnavailable(RuntimeError):
    """The event could not be committed; the webhook answers 503 so Meta retries."""


def _consume_exception(future: asyncio.Future[StoredDelivery]) -> None:
    """Mark a late failure as seen when its request already gave up waiting."""
    if not future.cancelled():
        future.exception()


Pending = tuple[IncomingDelivery, asyncio.Future[StoredDelivery]]


class IngestWriter:
    def __init__(self, pool: AsyncConnectionPool, flushers: int = 4, max_batch: int = 256,
                 timeout_s: float = 5.0):
        self._pool = pool
        self._flushers = flushers
        self._max_batch = max_batch
        self._timeout_s = timeout_s
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
        future: asyncio.Future[StoredDelivery] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume_exception)
        self._pending.append((delivery, future))
        self._wakeup.set()
        try:
            # shield: a timed-out request must not cancel the batch other requests are waiting on.
            return await asyncio.wait_for(asyncio.shield(future), self._timeout_s)
        except TimeoutError as exc:
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

    async def _flush(self, batch: Sequence[Pending]) -> None:
        try:
            async with self._pool.connection() as conn:
                results = await store_batch(conn, [delivery for delivery, _ in batch])
        except (psycopg.OperationalError, PoolTimeout, OSError) as exc:
            log.warning("ingest.database_unavailable", batch=len(batch), error=str(exc).splitlines()[0])
            self._fail(batch, DatabaseUnavailable(str(exc)))
            return
        except psycopg.Error as exc:
            await self._isolate(batch, exc)
            return
        except Exception as exc:  # a bug must fail the requests, never leave them hanging
            log.exception("ingest.store_failed", batch=len(batch))
            self._fail(batch, DatabaseUnavailable(f"store failed: {exc}"))
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _isolate(self, batch: Sequence[Pending], exc: psycopg.Error) -> None:
        """A data error fails the whole statement: retry one by one so only the bad body is affected, and keep
        that body as a dead letter (stored, visible, never lost) rather than refusing it forever."""
        if len(batch) > 1:
            for item in batch:
                await self._flush([item])
            return
        delivery, future = batch[0]
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        log.error("ingest.body_rejected_by_database", error=error)
        try:
            async with self._pool.connection() as conn:
                delivery.error = error
                result = (await store_batch(conn, [delivery]))[0]
        except Exception as second:  # noqa: BLE001 - anything here means "not stored": 503
            self._fail(batch, DatabaseUnavailable(str(second)))
            return
        if not future.done():
            future.set_result(result)

    @staticmethod
    def _fail(batch: Sequence[Pending], exc: Exception) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
