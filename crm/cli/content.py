"""`crm content`: the content calendar (issue 8): list, approve and reschedule posts (same rules as the API)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The content calendar: posts for Instagram and Facebook pages.", no_args_is_help=True)
console = Console()


def _run(work: Callable[[Any], Awaitable[Any]]) -> Any:
    """One committed transaction on the project database; the calendar's refusals exit with code 1."""
    from crm.cli.db import ensure_database
    from crm.db.engine import create_engine, session_factory
    from serving.services.content_calendar import ContentError

    async def go() -> Any:
        engine = create_engine(ensure_database())
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except (LookupError, ContentError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@app.command("list")
def list_posts(status: str | None = typer.Option(None, help="draft, approved, published or failed.")) -> None:
    """Posts by scheduled time."""
    from serving.services.content_calendar import list_posts as fetch

    table = Table("id", "status", "scheduled", "channels", "text")
    for post in _run(lambda session: fetch(session, status)):
        table.add_row(str(post.id), post.status, post.scheduled_at.isoformat() if post.scheduled_at else "-",
                      ", ".join(post.channels), post.body[:60])
    console.print(table)


@app.command()
def approve(post_id: int = typer.Argument(..., help="The post's id (`crm content list`).")) -> None:
    """Approve a draft (or a failed post) for publishing at its scheduled time."""
    from serving.services.content_calendar import approve as approve_post

    post = _run(lambda session: approve_post(session, post_id, "cli", datetime.now(UTC)))
    console.print(f"post {post.id} approved", highlight=False)


@app.command()
def reschedule(post_id: int = typer.Argument(...),
               at: datetime = typer.Option(..., "--at", help="New time, ISO 8601 with an offset "
                                                              "(2026-12-01T10:00:00-05:00).")) -> None:
    """Move a post that is not published yet."""
    from serving.services.content_calendar import reschedule as move

    if at.tzinfo is None:
        console.print("[red]--at needs a time zone offset, e.g. 2026-12-01T10:00:00-05:00[/red]")
        raise typer.Exit(2)
    post = _run(lambda session: move(session, post_id, at))
    console.print(f"post {post.id} now scheduled for {post.scheduled_at.isoformat()}", highlight=False)


@app.command()
def generate(
    week_of: Annotated[datetime | None, typer.Option("--week-of", formats=["%Y-%m-%d"],
                                                     help="Any day of the week to propose (default: next week).")]
    = None,
    auto_approve: Annotated[bool | None, typer.Option("--auto-approve/--no-auto-approve",
                                                      help="Approve the new posts for publishing (default: "
                                                           "CONTENT_AUTO_PUBLISH).")] = None,
) -> None:
    """Propose a week's posts from the catalog (flow 14), as the Dagster asset content_drafts does."""
    from zoneinfo import ZoneInfo

    from crm.cli.db import ensure_database
    from crm.settings import get_settings
    from orchestration.defs.content.drafts import generate_for_database

    settings = get_settings()
    report = generate_for_database(ensure_database(), settings, week_of=week_of.date() if week_of else None,
                                   auto_approve=auto_approve)
    zone = ZoneInfo(settings.business_timezone)
    table = Table("id", "when", "channels", "status", "by", "text", title=f"week of {report.monday.isoformat()}")
    table.columns[1].no_wrap = True
    for post in report.added:
        table.add_row(str(post.id), post.scheduled_at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M"),
                      ", ".join(post.channels), report.status, post.written_by, " ".join(post.body.split())[:60])
    if report.added:
        console.print(table)
    console.print(f"{report.proposed} proposed, {report.inserted} new ({report.already} already in the calendar)",
                  highlight=False)
