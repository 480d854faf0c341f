"""`crm channels`: our WhatsApp numbers, Facebook pages and Instagram accounts, with their access tokens
(encrypted with CRM_SECRET_KEY, never printed)."""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.table import Table

from crm.cli.db import sync_session

app = typer.Typer(help="Channel accounts: the numbers and pages the CRM answers from.", no_args_is_help=True)
console = Console()
CHANNELS = ("whatsapp", "messenger", "instagram")


@app.command()
def add(
    channel: str = typer.Option(..., help="whatsapp, messenger or instagram."),
    external_id: str = typer.Option(..., "--id", help="The phone_number_id, page id or Instagram account id."),
    business_account: str | None = typer.Option(None, help="WhatsApp: the WABA id (`crm templates sync` reads it)."),
    name: str | None = typer.Option(None, help="A display name."),
    token_env: str | None = typer.Option(None, help="Read the access token from this environment variable "
                                                    "(tokens are never passed as arguments: shell history)."),
) -> None:
    """Add or update a channel account; its token is stored encrypted with CRM_SECRET_KEY."""
    from sqlalchemy.dialects.postgresql import insert

    from crm.db.models import ChannelAccount
    from crm.security.secrets import encrypt_token
    from crm.settings import get_settings

    if channel not in CHANNELS:
        console.print(f"[red]unknown channel {channel!r}[/red]: use one of {', '.join(CHANNELS)}")
        raise typer.Exit(2)
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            console.print(f"[red]{token_env} is not set[/red]")
            raise typer.Exit(2)
    try:
        encrypted = encrypt_token(token, get_settings().crm_secret_key) if token else None
    except Exception as exc:  # e.g. no CRM_SECRET_KEY: say so instead of storing the token in clear
        console.print(f"[red]cannot encrypt the token: {exc}[/red]")
        raise typer.Exit(2) from None
    values = {"channel": channel, "external_id": external_id, "business_account_id": business_account,
              "display_name": name}
    if encrypted is not None:
        values["access_token_encrypted"] = encrypted
    with sync_session() as session:
        update = {k: v for k, v in values.items() if v is not None and k not in ("channel", "external_id")}
        statement = insert(ChannelAccount).values(**values)
        statement = (statement.on_conflict_do_update(index_elements=["channel", "external_id"], set_=update)
                     if update else statement.on_conflict_do_nothing(index_elements=["channel", "external_id"]))
        session.execute(statement)
        session.commit()
    console.print(f"{channel} account {external_id} saved" + (" with its token" if token else ""))


@app.command("list")
def list_accounts() -> None:
    """Accounts with whether a token is stored (never the token)."""
    from sqlalchemy import select

    from crm.db.models import ChannelAccount

    table = Table("channel", "id", "business account", "name", "token", "status")
    with sync_session() as session:
        for account in session.scalars(select(ChannelAccount).order_by(ChannelAccount.channel, ChannelAccount.id)):
            table.add_row(account.channel, account.external_id, account.business_account_id or "-",
                          account.display_name or "-", "stored" if account.access_token_encrypted else "-",
                          account.status)
    console.print(table)
