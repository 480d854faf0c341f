"""`crm templates`: the approved WhatsApp templates, the only messages allowed outside the 24-hour window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from crm.cli.db import run_in_session
from crm.settings import Settings, get_settings

if TYPE_CHECKING:  # imported when a command runs, so `crm --help` stays fast
    from sqlalchemy.ext.asyncio import AsyncSession

    from crm.db.models import WhatsappTemplate
    from serving.services.templates import SyncReport

app = typer.Typer(help="WhatsApp message templates synchronized from Meta.", no_args_is_help=True)
console = Console()


def graph_base_url(settings: Settings) -> str:
    """META_GRAPH_BASE_URL when set; in development, the Graph sandbox if `crm serve` started it (the worker
    sends there too), so templates and sends come from the same place."""
    from crm.cli.processes import SANDBOX
    from crm.cli.services import SANDBOX_URL

    if "meta_graph_base_url" not in settings.model_fields_set and not settings.is_production \
            and SANDBOX.is_running():
        return SANDBOX_URL
    return settings.meta_graph_base_url


@app.command()
def sync(
    account: list[str] = typer.Option(None, "--account", metavar="WABA_ID",
                                      help="A WhatsApp Business Account id (repeatable). Default: those of "
                                           "the WhatsApp channel accounts."),
) -> None:
    """Fetch every template from Meta, add and update them, and mark the ones Meta no longer lists DELETED."""
    from crm.logging import configure_logging
    from serving.services.channels.graph import GraphClient
    from serving.services.templates import TemplateSyncError, sync_templates

    configure_logging("ERROR")  # the summary below says what happened; no log lines in between
    settings = get_settings()
    base_url = graph_base_url(settings)

    async def run(session: AsyncSession) -> SyncReport:
        graph = GraphClient(base_url, settings.meta_graph_version)
        try:
            return await sync_templates(session, graph, settings, account or None)
        finally:
            await graph.aclose()

    try:
        report = run_in_session(run, commit=True)
    except TemplateSyncError as exc:
        console.print(f"[red]nothing to synchronize:[/red] {exc}")
        raise typer.Exit(1) from exc
    table = Table("account", "added", "updated", "deleted", "unchanged", "result",
                  title=f"WhatsApp templates from {base_url}")
    for result in report.accounts:
        outcome = ("[green]ok[/green]" if result.error is None
                   else f"[red]failed, nothing changed: {result.error}[/red]")
        table.add_row(result.business_account_id, str(result.added), str(result.updated), str(result.deleted),
                      str(result.unchanged), outcome)
    console.print(table)
    if not report.ok:
        if any(result.unreachable for result in report.accounts) and not settings.is_production:
            console.print(f"{base_url} could not be reached. In development, Meta cannot be: run "
                          "`crm sandbox` (or `crm serve --detach`) and set "
                          "META_GRAPH_BASE_URL=http://127.0.0.1:8765.")
        raise typer.Exit(1)


@app.command("list")
def list_templates(
    account: str = typer.Option(None, "--account", metavar="WABA_ID",
                                help="Only this WhatsApp Business Account."),
) -> None:
    """The stored templates: name, language, category, status and how many body parameters a send needs."""
    from sqlalchemy import select

    from crm.db.models import WhatsappTemplate

    async def load(session: AsyncSession) -> Sequence[WhatsappTemplate]:
        query = select(WhatsappTemplate).order_by(WhatsappTemplate.business_account_id, WhatsappTemplate.name,
                                                  WhatsappTemplate.language)
        if account:
            query = query.where(WhatsappTemplate.business_account_id == account)
        return (await session.scalars(query)).all()

    rows = run_in_session(load)
    if not rows:
        console.print("no templates stored: run `crm templates sync`")
        return
    table = Table("account", "name", "language", "category", "status", "parameters")
    for row in rows:
        status = row.status if row.status == "APPROVED" else f"[dim]{row.status}[/dim]"
        table.add_row(row.business_account_id, row.name, row.language, row.category or "", status,
                      str(row.parameter_count))
    console.print(table)
