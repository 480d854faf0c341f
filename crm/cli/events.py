"""`crm events`: the webhook log, dead letters, and requeueing them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from crm.cli.db import run_in_session

app = typer.Typer(help="Stored webhook events and their processing state.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_events(
    status: str = typer.Option(None, help="queued, processed, no_action, retrying or dead_letter."),
    limit: int = typer.Option(20),
) -> None:
    """The newest events, optionally only those in one state."""
    from serving.services.raw_events import list_raw_events

    events = run_in_session(lambda s: list_raw_events(s, status, limit))
    table = Table("id", "received", "object", "status", "attempts", "items", "last error")
    for event in events:
        items = ", ".join(f"{k}={v}" for k, v in (event.item_counts or {}).items() if v)
        table.add_row(str(event.id), f"{event.received_at:%Y-%m-%d %H:%M:%S}", event.object_type or "?",
                      event.processing_status, str(event.attempts), items, (event.last_error or "")[:80])
    console.print(table)


@app.command()
def retry(event_id: int) -> None:
    """Queue a dead-lettered (or any) event for processing again."""
    from serving.services.raw_events import RawEventNotFound, requeue_raw_event

    try:
        job_id = run_in_session(lambda s: requeue_raw_event(s, event_id))
    except RawEventNotFound as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"event {event_id} queued again (job {job_id})")
