"""`crm db`: the database every other command uses (embedded unless DATABASE_URL is set)."""

from __future__ import annotations

import os

import typer
from rich.console import Console

app = typer.Typer(help="Start, stop and inspect the database (embedded PostgreSQL unless DATABASE_URL is set).",
                  no_args_is_help=True)
console = Console(stderr=True)


def ensure_database() -> str:
    """Start the embedded cluster if needed, apply migrations, and export DATABASE_URL for child processes."""
    from crm.db.local_pg import LocalPostgresError
    from crm.db.migrate import upgrade
    from crm.db.runtime import resolve_database_url

    try:
        url = resolve_database_url(start=True)
    except LocalPostgresError as exc:
        console.print(f"[red]database:[/red] {exc}")
        raise typer.Exit(1) from exc
    _ensure_platform_databases(url)
    upgrade(url)
    os.environ["DATABASE_URL"] = url
    return url


def sync_session():  # noqa: ANN201 - a sqlalchemy.orm.Session, imported lazily
    """A synchronous ORM session on the project database (started and migrated if needed), for small commands."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from crm.db.urls import sqlalchemy_url

    return Session(create_engine(sqlalchemy_url(ensure_database())))


def run_in_session(fn, commit: bool = False):  # noqa: ANN001, ANN201 - any coroutine taking a session
    """Run `fn(session)` on the project database (started and migrated if needed) and return its result."""
    import asyncio

    from crm.db.engine import create_engine, session_factory

    async def run():  # noqa: ANN202
        engine = create_engine(ensure_database())
        try:
            async with session_factory(engine)() as session:
                result = await fn(session)
                if commit:
                    await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _ensure_platform_databases(url: str) -> None:
    """Dagster's run storage and MLflow's tracking store live in databases of their own on the same server."""
    from crm.db.local_pg import EXTRA_DATABASES, ensure_databases
    from crm.db.urls import with_database

    try:
        ensure_databases(with_database(url, "postgres"), EXTRA_DATABASES)
    except Exception as exc:  # noqa: BLE001 - a managed server may not let us create databases: say so, go on
        console.print(f"[yellow]could not create the {', '.join(EXTRA_DATABASES)} databases ({exc}); "
                      "create them by hand for Dagster and MLflow[/yellow]")


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def up() -> None:
    """Start the embedded PostgreSQL (reused if running), create the databases, apply the migrations."""
    url = ensure_database()
    from crm.db.migrate import current_revision

    console.print(f"database ready at {_masked(url)} (schema revision {current_revision(url)})")


@app.command()
def down() -> None:
    """Stop the embedded PostgreSQL (nothing to do when DATABASE_URL points elsewhere)."""
    from crm.db.runtime import embedded_cluster

    if os.environ.get("DATABASE_URL"):
        console.print("DATABASE_URL is set: that server is not ours to stop")
        return
    stopped = embedded_cluster().down()
    console.print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@app.command()
def status() -> None:
    """Where the database is, whether it runs, and the schema revision."""
    from crm.db.migrate import current_revision
    from crm.db.runtime import embedded_cluster

    if url := os.environ.get("DATABASE_URL"):
        console.print(f"external database: {_masked(url)}")
    else:
        cluster = embedded_cluster()
        running = cluster.is_running()
        console.print(f"embedded PostgreSQL: {'running' if running else 'stopped'} on port {cluster.port}, "
                      f"data in {cluster.data_dir}")
        if not running:
            raise typer.Exit(1)
        url = cluster.url()
    try:
        console.print(f"schema revision: {current_revision(url) or 'not migrated (run `crm db up`)'}")
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        console.print(f"[red]cannot connect:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def url() -> None:
    """Print the DATABASE_URL launchers export (starting the embedded cluster if needed)."""
    from crm.db.runtime import resolve_database_url

    print(resolve_database_url(start=True))
