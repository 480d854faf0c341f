"""The data-platform half of `crm demo` (printing only; the work is orchestration.demo)."""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def run_platform(seed: int) -> None:
    from crm.cli.ui import dagster_env
    from orchestration.demo import import_legacy_contacts, materialize_everything

    database_url = os.environ["DATABASE_URL"]
    env = dagster_env(database_url)
    imported = import_legacy_contacts(database_url, seed=seed)
    if imported:
        console.print(f"imported a legacy contact list of {imported} rows (typos, formats, duplicates, test rows)")
    with console.status("materializing the data platform (contacts: clean → dedup → golden, enrich)..."):
        summary = materialize_everything(env)
    table = Table(title="Data platform (Dagster run, see `make ui`)", show_header=False)
    table.add_row("contacts cleaned", f"{summary.contacts:,}")
    table.add_row("valid phones", f"{summary.valid_phone_share:.0%}")
    table.add_row("junk / test records flagged (kept)", str(summary.junk))
    table.add_row("duplicates merged", f"{summary.merged:,} into {summary.golden:,} golden contacts")
    for name, passed in sorted(summary.checks.items()):
        table.add_row(f"check {name}", "[green]passed[/green]" if passed else "[yellow]failed[/yellow]")
    console.print(table)
    if not summary.success:
        console.print("[red]some assets failed: see the run in the Dagster UI (`make ui`)[/red]")
        raise typer.Exit(1)
