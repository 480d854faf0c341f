"""`crm apikey`: create, list and revoke API keys for the /api/v1 routes."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from crm.cli.db import sync_session

app = typer.Typer(help="API keys for the HTTP API (the webhook and health checks need none).",
                  no_args_is_help=True)
console = Console()


@app.command()
def create(
    name: str = typer.Option(..., help="Who uses it, e.g. n8n."),
    scope: str = typer.Option("read", help="admin, agent, automation, commerce or read."),
    agent: int | None = typer.Option(None, help="For scope agent: the agent id (`crm agents list`) it belongs to."),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from crm.db.models import ApiKey
    from crm.db.models.auth import API_KEY_SCOPES
    from crm.security.api_keys import display_prefix, generate_key, hash_key

    if scope not in API_KEY_SCOPES:
        console.print(f"[red]unknown scope {scope!r}[/red]: use one of {', '.join(API_KEY_SCOPES)}")
        raise typer.Exit(2)
    if (agent is not None) != (scope == "agent"):
        console.print("[red]an agent key belongs to one agent: use --scope agent with --agent ID[/red] "
                      "(see `crm agents list`)")
        raise typer.Exit(2)
    key = generate_key()
    with sync_session() as session:
        from crm.db.models import Agent

        if agent is not None and session.get(Agent, agent) is None:
            console.print(f"[red]no agent with id {agent}[/red]: see `crm agents list`")
            raise typer.Exit(2)
        session.add(ApiKey(name=name, scope=scope, prefix=display_prefix(key), key_hash=hash_key(key),
                           agent_id=agent))
        session.commit()
    console.print(f"created key for [bold]{name}[/bold] with scope [bold]{scope}[/bold]; "
                  "store it now, it is not shown again:", style="dim", highlight=False)
    print(key)


@app.command("list")
def list_keys() -> None:
    """Keys with their scope and last use (never the key itself)."""
    from sqlalchemy import select

    from crm.db.models import ApiKey

    table = Table("id", "name", "scope", "prefix", "created", "last used", "revoked")
    with sync_session() as session:
        for key in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            table.add_row(str(key.id), key.name, key.scope, key.prefix + "…", f"{key.created_at:%Y-%m-%d %H:%M}",
                          f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
                          f"{key.revoked_at:%Y-%m-%d}" if key.revoked_at else "-")
    console.print(table)


@app.command()
def revoke(key_id: int) -> None:
    """Revoke a key by id (takes effect within 30 s on running APIs)."""
    from sqlalchemy import func, update

    from crm.db.models import ApiKey

    with sync_session() as session:
        changed = session.execute(
            update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
        ).rowcount
        session.commit()
    if not changed:
        console.print(f"[red]no active key with id {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked key {key_id}")
