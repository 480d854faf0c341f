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
    kpis = summary.kpis
    if kpis:
        marts = Table(title="KPI marts (dbt: marts.mart_autonomous_resolution, marts.fct_conversations)",
                      show_header=False)
        share = kpis["autonomous_share"]
        marts.add_row("conversations", str(kpis["conversations"]))
        marts.add_row("resolved without a person", f"{share:.0%} (target > {kpis['target_share']:.0%})"
                      if share is not None else "-")
        marts.add_row("escalated", str(kpis["escalated"]))
        if kpis["p95_first_response_s"] is not None:
            marts.add_row("bot first response", f"p50 {kpis['p50_first_response_s']:.1f} s, "
                                                f"p95 {kpis['p95_first_response_s']:.1f} s (target < 3 s)")
        console.print(marts)
        console.print("Query the marts with any SQL client: schemas staging, intermediate, marts "
                      f"({os.environ['DATABASE_URL'].rsplit('@', 1)[-1]}).")
    if not summary.success:
        console.print("[red]some assets failed: see the run in the Dagster UI (`make ui`)[/red]")
        raise typer.Exit(1)
