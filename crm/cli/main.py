"""The `crm` command line. Each command imports what it needs when it runs, so `crm --help` stays fast."""

from __future__ import annotations

import typer

from crm.cli import (
    agents,
    apikeys,
    catalog,
    channels,
    contacts,
    content,
    db,
    dedup,
    events,
    forecast,
    mlflow_ui,
    nlu,
    services,
    status,
    templates,
    ui,
)

app = typer.Typer(
    name="crm",
    help="Autonomous CRM: answers customers on WhatsApp, Instagram and Messenger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(apikeys.app, name="apikey")
app.add_typer(events.app, name="events")
app.add_typer(nlu.app, name="nlu")
app.add_typer(catalog.app, name="catalog")
app.add_typer(templates.app, name="templates")
app.add_typer(agents.app, name="agents")
app.add_typer(channels.app, name="channels")
app.add_typer(contacts.app, name="contacts")
app.add_typer(content.app, name="content")
app.command()(services.serve)
app.command()(services.worker)
app.command()(services.stop)
app.command()(services.sandbox)
app.command(name="status")(status.status)
app.command(name="dedup")(dedup.dedup)
app.command(name="forecast")(forecast.forecast)
app.command()(ui.ui)
app.command(name="mlflow")(mlflow_ui.mlflow_ui)


@app.command()
def demo(
    customers: int = typer.Option(40, help="How many synthetic customers write in."),
    seed: int = typer.Option(7, help="Random seed: the same seed replays the same stream."),
) -> None:
    """Start everything, replay a synthetic Meta stream as signed webhooks, summarise what was stored, then run
    the content calendar (drafts, approval, publishing, comment answers), the data platform (contacts, dbt marts,
    models) and the automation tick, and summarise those."""
    from crm.cli.automation_demo import run_automation
    from crm.cli.content_demo import print_content_performance, run_content
    from crm.cli.platform_demo import run_platform
    from crm.logging import configure_logging
    from serving.demo.runner import run_demo

    configure_logging("WARNING")  # the tables below say what happened; API and worker log to .run/
    base_url, secret = run_demo(customers=customers, seed=seed)
    run_content(base_url, secret)
    run_platform(seed=seed)
    print_content_performance()
    run_automation()


if __name__ == "__main__":
    app()
