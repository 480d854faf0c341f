"""Queueing a procrastinate job inside the caller's transaction (a plain INSERT into its table): the job exists
exactly when the row it is about was committed. The worker's tasks (serving/worker.py) pick them up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_INSERT = text("INSERT INTO crm.procrastinate_jobs (queue_name, task_name, priority, lock, args, scheduled_at) "
               "VALUES (:queue, :task, 0, :lock, jsonb_build_object(CAST(:arg AS text), CAST(:id AS bigint)), :at)")


async def defer_job(session: AsyncSession, *, queue: str, task: str, lock: str, arg: str, value: int,
                    at: datetime | None = None) -> None:
    """One job `task(arg=value)` on `queue`; jobs sharing `lock` run one at a time, in order. `at`: not before."""
    await session.execute(_INSERT, {"queue": queue, "task": task, "lock": lock, "arg": arg, "id": value, "at": at})
