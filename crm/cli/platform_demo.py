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
    from orchestration.demo_models import load_history

    database_url = os.environ["DATABASE_URL"]
    env = dagster_env(database_url)
    imported = import_legacy_contacts(database_url, seed=seed)
    if imported:
        console.print(f"imported a legacy contact list of {imported} rows (typos, formats, duplicates, test rows)")
    with console.status("writing 15 months of past leads and their outcomes (once)..."):
        leads = load_history(database_url)
    if leads:
        console.print(f"wrote a history of {leads:,} past leads, read by the NLU, with their orders")
    with console.status("materializing the data platform (contacts, dbt marts, lead model)..."):
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
    _print_models(database_url)
    for check in summary.rejected_challengers:
        console.print(f"[yellow]{check}: the new model did not beat the champion, which keeps serving[/yellow]")
    if not summary.success:
        console.print("[red]some assets failed: see the run in the Dagster UI (`make ui`)[/red]")
        raise typer.Exit(1)


def _print_models(database_url: str) -> None:
    from crm.settings import get_settings
    from orchestration.demo_models import lead_model_summary, sales_summary

    models = lead_model_summary(database_url, get_settings().mlflow_tracking_uri)
    console.print(f"NLU: {models.nlu}")
    if models.version is None:
        console.print("[yellow]no lead-conversion model promoted yet (see the run in `make ui`)[/yellow]")
        return
    m = models.metrics
    table = Table(title=f"lead_conversion_classifier@champion (version {models.version}; `make mlflow`)",
                  show_header=False)
    table.add_row("held-out leads", f"{m.get('held_out_rows', 0):,.0f} (the most recent, {m.get('base_rate', 0):.0%} "
                                    "bought within 90 days)")
    table.add_row("ROC AUC / PR AUC", f"{m.get('roc_auc', 0):.3f} / {m.get('pr_auc', 0):.3f}")
    table.add_row("Brier score", f"{m.get('brier', 0):.3f}")
    if sales := sales_summary(database_url):
        table.add_row("sales forecast", f"${sales['repeat'] + sales['opportunities']:,.0f} over the next "
                                        f"{sales['weeks']} weeks (repeat purchases ${sales['repeat']:,.0f}, open "
                                        f"opportunities ${sales['opportunities']:,.0f}); "
                                        f"{sales['likely_buyers']} of {sales['customers']} customers likely to buy "
                                        "again (marts.revenue_forecast_weekly, marts.sales_predictions)")
    for lead in models.hot_leads:
        table.add_row(f"hot lead {lead.contact_id}", f"{lead.probability:.0%} likely to buy (rule score "
                                                     f"{lead.rule_score}): " + "; ".join(lead.reasons))
    console.print(table)
