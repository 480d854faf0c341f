"""`crm status`: the health of every component in one table. Starts nothing but the embedded database (to read it).

Exit code 1 when something is down: the database, the API (its /readyz), the worker (no heartbeat in the last
minute), or n8n when N8N_BASE_URL is set. Warnings leave the exit code at 0: dead letters, outbound failures in
the last hour, a queue whose oldest ready job waits more than five minutes, a failed last Dagster run, no Dagster
database yet. They need a person's look, not a restart.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

import typer
from rich.console import Console
from rich.table import Table

from crm.settings import Settings, get_settings

State = Literal["ok", "warn", "down", "info"]
QUEUE_AGE_WARN_S = 300.0
HTTP_TIMEOUT_S = 2.0
_STYLE = {"ok": "green", "warn": "yellow", "down": "red", "info": "cyan"}


@dataclass(frozen=True)
class Check:
    component: str
    state: State
    detail: str


def exit_code(checks: list[Check]) -> int:
    return 1 if any(check.state == "down" for check in checks) else 0


def _local(base_url: str) -> str:
    """A server listening on every interface is asked on the loopback one."""
    return base_url.replace("://0.0.0.0:", "://127.0.0.1:")


def check_api(settings: Settings) -> Check:
    import httpx

    base = _local(settings.api_base_url)
    try:
        response = httpx.get(f"{base}/readyz", timeout=HTTP_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return Check("API", "down", f"not reachable at {base} ({type(exc).__name__}); start it with "
                                    "`crm serve --detach`")
    if response.status_code == 200:
        revision = response.json().get("schema_revision")
        return Check("API", "ok", f"ready at {base} (schema revision {revision})")
    return Check("API", "down", f"{base}/readyz answered {response.status_code}: its database is unreachable or "
                                "not migrated")


def check_n8n(settings: Settings) -> Check:
    import httpx

    if not settings.n8n_base_url:
        return Check("n8n", "info", "N8N_BASE_URL not set: direct mode (automation events go to the API's actions)")
    base = settings.n8n_base_url.rstrip("/")
    try:
        response = httpx.get(f"{base}/healthz", timeout=HTTP_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return Check("n8n", "down", f"not reachable at {base} ({type(exc).__name__})")
    if response.status_code == 200:
        return Check("n8n", "ok", f"healthy at {base}")
    return Check("n8n", "down", f"{base}/healthz answered {response.status_code}")


def check_graph(settings: Settings) -> Check:
    from crm.cli.processes import SANDBOX
    from crm.cli.services import SANDBOX_URL

    configured = "meta_graph_base_url" in settings.model_fields_set
    if not configured and not settings.is_production and SANDBOX.is_running():
        return Check("Graph API", "info", f"local sandbox {SANDBOX_URL} (what `crm serve` uses in development)")
    return Check("Graph API", "info", f"{settings.meta_graph_base_url.rstrip('/')}/{settings.meta_graph_version}")


async def _database_checks(database_url: str) -> list[Check]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from crm.db.engine import create_engine
    from serving.services.metrics import (
        LIVE_WORKER_S,
        outbound_last_hour,
        queue_stats,
        raw_event_backlog,
        workers_alive,
    )

    engine = create_engine(database_url, pool_size=1, connect_timeout_s=3.0)
    try:
        async with engine.connect() as conn:
            revision = (await conn.execute(text(
                "SELECT CASE WHEN to_regclass('crm.alembic_version') IS NULL THEN NULL "
                "ELSE (SELECT version_num FROM crm.alembic_version) END"))).scalar()
            if revision is None:
                return [Check("database", "down", "reachable but not migrated: run `crm db up`")]
            alive = await workers_alive(conn)
            queues = await queue_stats(conn)
            backlog = await raw_event_backlog(conn)
            failed = (await outbound_last_hour(conn)).get("failed", 0)
    finally:
        await engine.dispose()
    where = make_url(database_url).render_as_string(hide_password=True)
    checks = [Check("database", "ok", f"{where} (schema revision {revision})")]
    checks.append(Check("worker", "ok", f"{alive} process{'es' if alive != 1 else ''} with a heartbeat in the last "
                                        f"{LIVE_WORKER_S} s") if alive else
                  Check("worker", "down", f"no heartbeat in the last {LIVE_WORKER_S} s; start it with "
                                          "`crm serve --detach` or `crm worker`"))
    for queue in queues:
        slow = queue.oldest_ready_age_s > QUEUE_AGE_WARN_S
        age = f"; oldest ready job waiting {_duration(queue.oldest_ready_age_s)}" if queue.ready else ""
        checks.append(Check(f"queue {queue.queue}", "warn" if slow else "ok",
                            f"{queue.ready} ready, {queue.scheduled} scheduled, {queue.doing} running{age}"))
    dead = backlog.get("dead_letter", 0)
    checks.append(Check("dead letters", "warn", f"{dead} raw event{'s' if dead != 1 else ''}: see `crm events list "
                                                "--status dead_letter`, requeue with `crm events retry ID`")
                  if dead else Check("dead letters", "ok", "none"))
    checks.append(Check("outbound failures", "warn" if failed else "ok",
                        f"{failed} in the last hour" + (" (see crm.outbound_messages.last_error)" if failed else "")))
    return checks


def check_dagster(dagster_url: str) -> Check:
    """The last run in Dagster's run storage (the `dagster` database beside the project's)."""
    import psycopg

    from crm.db.urls import plain_url

    try:
        with psycopg.connect(plain_url(dagster_url), connect_timeout=3) as conn:
            if conn.execute("SELECT to_regclass('runs')").fetchone()[0] is None:
                return Check("Dagster", "info", "no runs yet (start the UI with `crm ui`)")
            row = conn.execute(
                "SELECT status, pipeline_name, coalesce(to_timestamp(end_time), to_timestamp(start_time), "
                "update_timestamp AT TIME ZONE 'UTC') FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    except psycopg.OperationalError as exc:
        if "does not exist" in str(exc):
            return Check("Dagster", "warn", "dagster database missing (`crm db up` creates it)")
        return Check("Dagster", "warn", f"run storage unreachable: {str(exc).strip().splitlines()[0]}")
    if row is None:
        return Check("Dagster", "info", "no runs yet")
    status, job, at = row
    when = f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({_duration((datetime.now(UTC) - at).total_seconds())} ago)"
    state: State = "warn" if status in ("FAILURE", "CANCELED") else "ok"
    return Check("Dagster", state, f"last run {status} ({job}) at {when}")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"


def collect(settings: Settings, database_url: str | None, dagster_url: str | None = None) -> list[Check]:
    """Every check, in display order; `database_url` None means the database could not be started."""
    from crm.db.urls import with_database

    checks = [check_api(settings)]
    if database_url is None:
        checks.append(Check("database", "down", "could not be started or reached"))
    else:
        try:
            checks += asyncio.run(_database_checks(database_url))
        except Exception as exc:  # noqa: BLE001 - report, don't crash
            checks.append(Check("database", "down", f"unreachable: {str(exc).strip().splitlines()[0][:200]}"))
        checks.append(check_dagster(dagster_url or with_database(database_url, "dagster")))
    checks += [check_n8n(settings), check_graph(settings)]
    return checks


def status(
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON (for scripts)."),
) -> None:
    """The health of every component: API, database, worker, queues, dead letters, outbound failures, the last
    Dagster run, n8n, the Graph API. Exit code 1 when something is down; warnings keep 0."""
    from crm.db.local_pg import LocalPostgresError
    from crm.db.runtime import resolve_database_url

    settings = get_settings()
    try:
        database_url: str | None = resolve_database_url(start=True)
    except LocalPostgresError:
        database_url = None
    checks = collect(settings, database_url)
    if as_json:
        print(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        table = Table("component", "state", "detail", title="crm status")
        for check in checks:
            table.add_row(check.component, f"[{_STYLE[check.state]}]{check.state}[/]", check.detail)
        Console().print(table)
    raise typer.Exit(exit_code(checks))
