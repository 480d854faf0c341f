"""The automation part of `crm demo`: tick the automation schedules once over the demo data and deliver what they
raised (direct mode without n8n: the local actions), then print per flow what was raised and what became of it."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import psycopg
from rich.console import Console
from rich.table import Table

from crm.db.urls import plain_url

console = Console()


def run_automation() -> None:
    from crm.settings import get_settings
    from orchestration.defs.automation.alerts import check_alerts
    from orchestration.defs.automation.due import raise_events
    from orchestration.defs.automation.schedules import tick
    from orchestration.defs.resources import WarehouseResource

    database_url = os.environ["DATABASE_URL"]
    settings = get_settings()
    now = datetime.now(UTC)
    warehouse = WarehouseResource(dsn=database_url)
    raised = tick(warehouse, ("follow_up", "nurturing", "closer", "cart", "payment"), now, settings.business_timezone)
    with warehouse.connect() as conn:  # the alerts sensor's conditions (its Dagster-event-log part aside)
        raised["alerts"] = raise_events(conn, check_alerts(conn, now), now)
    asyncio.run(_dispatch(database_url, now))
    with psycopg.connect(plain_url(database_url)) as conn:
        rows = conn.execute(
            "SELECT event_type, count(*), count(*) FILTER (WHERE status = 'delivered'), "
            "count(*) FILTER (WHERE payload->'result'->>'status' = 'queued'), "
            "string_agg(DISTINCT payload->'result'->>'reason', ', ') FROM crm.automation_events "
            "GROUP BY event_type ORDER BY event_type").fetchall()
    table = Table(title=f"Automation events (this tick raised {sum(raised.values())}; "
                        f"{'n8n' if settings.n8n_base_url else 'direct mode: local actions'})")
    for column in ("event", "raised", "delivered", "messages queued", "not sent because"):
        table.add_column(column)
    for event_type, total, delivered, queued, reasons in rows:
        table.add_row(event_type, str(total), str(delivered), str(queued), reasons or "")
    console.print(table)


async def _dispatch(database_url: str, now: datetime) -> None:
    from crm.db.engine import create_engine, session_factory
    from crm.settings import get_settings
    from serving.services.automation.dispatcher import dispatch_due

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            await dispatch_due(session, get_settings(), now, limit=1000)
            await session.commit()
    finally:
        await engine.dispose()
