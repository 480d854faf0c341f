"""`crm db`: the database every other command uses (embedded unless DATABASE_URL is set)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

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


# -- backup and restore ------------------------------------------------------------------------------------------

DUMP_MAGIC = b"PGDMP"  # the first bytes of every pg_dump custom-format archive
KEY_TABLES = ("contacts", "conversations", "messages", "outbound_messages", "raw_webhook_events", "orders")
_USER_RELATIONS = """
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
"""


def _project_url() -> str:
    """The project database (embedded: started if needed, not migrated: a backup or a restore must not change it)."""
    from crm.db.local_pg import LocalPostgresError
    from crm.db.runtime import resolve_database_url

    try:
        return resolve_database_url(start=True)
    except LocalPostgresError as exc:
        console.print(f"[red]database:[/red] {exc}")
        raise typer.Exit(1) from exc


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump / pg_restore without its password, and an environment carrying it (PGPASSWORD), so the
    password never shows in the process list."""
    from sqlalchemy.engine import make_url

    from crm.db.urls import plain_url

    parsed = make_url(plain_url(url))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _connect(url: str):  # noqa: ANN202 - a psycopg.Connection, imported lazily
    import psycopg

    from crm.db.urls import plain_url

    try:
        return psycopg.connect(plain_url(url), connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        console.print(f"[red]cannot connect to {_masked(url)}:[/red] {str(exc).strip().splitlines()[0]}")
        raise typer.Exit(1) from exc


def _pg_tool(name: str, server_major: int) -> str:
    """pg_dump / pg_restore matching the server's major version where Debian installs them (off the PATH), else the
    embedded cluster's binaries, else the PATH's."""
    import shutil

    from crm.db.local_pg import LocalPostgresError, find_bindir

    candidates = [Path(f"/usr/lib/postgresql/{server_major}/bin") / name]
    try:
        candidates.append(find_bindir() / name)
    except LocalPostgresError:
        pass
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    if found := shutil.which(name):
        return found
    console.print(f"[red]{name} not found:[/red] install the PostgreSQL {server_major} client tools (Debian: "
                  f"`apt-get install postgresql-client-{server_major}`)")
    raise typer.Exit(1)


def _tool_error(result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stderr or result.stdout).strip()
    if "server version mismatch" in text:
        text += "\n(the client tools are older than the server: install the server's version of them)"
    return text


@dataclass(frozen=True)
class DumpContents:
    tables: int  # tables with data
    schemas: list[str]


def _dump_contents(pg_restore: str, dump: Path) -> DumpContents:
    """What the archive's table of contents lists (pg_restore --list fails on a truncated or foreign file)."""
    listing = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        console.print(f"[red]cannot read {dump}:[/red] {_tool_error(listing)}")
        raise typer.Exit(1)
    entries = [line.split() for line in listing.stdout.splitlines() if line and not line.startswith(";")]
    return DumpContents(tables=sum(1 for line in listing.stdout.splitlines() if " TABLE DATA " in line),
                        schemas=[parts[5] for parts in entries if parts[3:5] == ["SCHEMA", "-"] and len(parts) > 5])


def _restore(pg_restore: str, psql: str, source: Path, url: str, replace_schemas: list[str]) -> str | None:
    """pg_restore's SQL fed to psql inside ONE transaction, committed only when pg_restore read the whole archive
    and every statement succeeded: a failure (or a truncated file) changes nothing. Schemas being replaced are
    dropped first in that transaction (CASCADE: objects the dump does not know, such as a table a newer migration
    added, would otherwise block pg_restore --clean). Ownership and grants become the restoring user's: the dump's
    roles may not exist on this server. Returns the error, or None."""
    import tempfile

    conninfo, env = _libpq(url)
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c client_min_messages=warning".strip()  # no NOTICE per drop
    preamble = "BEGIN;\n"
    if replace_schemas:
        quoted = ", ".join('"' + name.replace('"', '""') + '"' for name in replace_schemas)
        preamble += f"DROP SCHEMA IF EXISTS {quoted} CASCADE;\n"
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        consumer = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--dbname={conninfo}",
                                     "--file=-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=psql_errors, env=env)
        producer = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file=-", str(source)],
                                    stdout=subprocess.PIPE, stderr=restore_errors)
        assert consumer.stdin is not None and producer.stdout is not None
        try:
            consumer.stdin.write(preamble.encode())
            while chunk := producer.stdout.read(1 << 16):
                consumer.stdin.write(chunk)
            if producer.wait() == 0:
                consumer.stdin.write(b"COMMIT;\n")
        except BrokenPipeError:  # psql stopped at an error; its message says which
            producer.kill()
        finally:
            try:
                consumer.stdin.close()
            except BrokenPipeError:
                pass
            consumer.wait()
            producer.wait()
        psql_errors.seek(0)
        restore_errors.seek(0)
        psql_message = psql_errors.read().decode(errors="replace").strip()
        restore_message = restore_errors.read().decode(errors="replace").strip()
    if consumer.returncode != 0:
        return psql_message or f"psql exited with {consumer.returncode}"
    if producer.returncode != 0:
        return f"pg_restore: {restore_message or f'exited with {producer.returncode}'}"
    return None


def _size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@app.command()
def backup(
    file: Path = typer.Argument(..., help="Where to write the dump (pg_dump custom format); relative to here."),
    database_url: str = typer.Option(None, "--database-url",
                                     help="Dump this database instead of the project's (e.g. the `dagster` one)."),
) -> None:
    """Dump the project database (pg_dump -Fc) to FILE; `crm db restore FILE` brings it back."""
    import time

    url = database_url or _project_url()
    target = file.expanduser().resolve()
    if target.is_dir():
        console.print(f"[red]{target} is a folder:[/red] give a file name, e.g. {target / 'crm.dump'}")
        raise typer.Exit(1)
    if not target.parent.is_dir():
        console.print(f"[red]folder {target.parent} does not exist[/red]")
        raise typer.Exit(1)
    with _connect(url) as conn:
        major = conn.info.server_version // 10000
    pg_dump, pg_restore = _pg_tool("pg_dump", major), _pg_tool("pg_restore", major)
    conninfo, env = _libpq(url)
    # Written beside the target and renamed when complete: a failed dump never leaves a truncated FILE (nor
    # replaces a good one).
    partial = target.with_name(f".{target.name}.partial")
    started = time.monotonic()
    with console.status(f"dumping {_masked(url)} to {target}..."):
        result = subprocess.run([pg_dump, "--format=custom", "--no-password", f"--file={partial}",
                                 f"--dbname={conninfo}"], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        console.print(f"[red]pg_dump failed:[/red] {_tool_error(result)}")
        raise typer.Exit(1)
    partial.replace(target)
    tables = _dump_contents(pg_restore, target).tables
    revision = _revision_or_none(url)
    console.print(f"backup written to {target} ({_size(target.stat().st_size)}, {tables} tables, schema revision "
                  f"{revision or 'none'}) in {time.monotonic() - started:.1f} s")


@app.command()
def restore(
    file: Path = typer.Argument(..., help="A dump written by `crm db backup` (pg_dump custom format)."),
    force: bool = typer.Option(False, "--force", help="Restore over a database that already has tables: the "
                                                      "schemas the dump contains are dropped and recreated, in the "
                                                      "restore's transaction."),
    database_url: str = typer.Option(None, "--database-url",
                                     help="Restore into this database (created if missing) instead of the "
                                          "project's."),
) -> None:
    """Restore a `crm db backup` dump into an empty database (the project's unless --database-url), then check
    the schema revision and print what came back."""
    import time

    source = file.expanduser().resolve()
    _check_dump_file(source)
    if database_url:
        url = database_url
        _create_database_if_missing(url)
    else:
        url = _project_url()
        from crm.cli.processes import API, WORKER

        if running := [service.name for service in (API, WORKER) if service.is_running()]:
            console.print(f"[red]{' and '.join(running)} running on the project database:[/red] stop them first "
                          "(`crm stop`), then restore")
            raise typer.Exit(1)
    with _connect(url) as conn:
        major = conn.info.server_version // 10000
        relations = conn.execute(_USER_RELATIONS).fetchone()[0]
    pg_restore, psql = _pg_tool("pg_restore", major), _pg_tool("psql", major)
    contents = _dump_contents(pg_restore, source)
    if relations and not force:
        console.print(f"[red]{_masked(url)} is not empty[/red] ({relations} tables, views or sequences): restore "
                      "into an empty (or new) database with --database-url, or pass --force to replace the "
                      f"schemas the dump contains ({', '.join(contents.schemas)})")
        raise typer.Exit(1)
    started = time.monotonic()
    with console.status(f"restoring {source} ({contents.tables} tables) into {_masked(url)}..."):
        error = _restore(pg_restore, psql, source, url, contents.schemas if relations else [])
    if error:
        console.print(f"[red]restore failed; nothing was changed:[/red] {error}")
        raise typer.Exit(1)
    console.print(f"restored {source} into {_masked(url)} in {time.monotonic() - started:.1f} s")
    _report_revision(url)
    _print_contents(url)


def _check_dump_file(source: Path) -> None:
    if not source.is_file():
        console.print(f"[red]no such file: {source}[/red]")
        raise typer.Exit(1)
    with source.open("rb") as handle:
        head = handle.read(64)
    if head.startswith(DUMP_MAGIC):
        return
    if b"PostgreSQL database dump" in head or head.startswith(b"--"):
        hint = "it looks like a plain SQL dump: restore it with psql, or make one with `crm db backup`"
    else:
        hint = "make one with `crm db backup FILE`"
    console.print(f"[red]{source} is not a pg_dump custom-format archive[/red] ({hint})")
    raise typer.Exit(1)


def _create_database_if_missing(url: str) -> None:
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from crm.db.urls import with_database

    name = make_url(url).database
    if not name:
        console.print("[red]--database-url must name a database[/red]")
        raise typer.Exit(1)
    with _connect(with_database(url, "postgres")) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    console.print(f"created database {name}")


def _revision_or_none(url: str) -> str | None:
    from crm.db.migrate import current_revision

    try:
        return current_revision(url)
    except Exception:  # noqa: BLE001 - a database that is not the CRM's has no revision
        return None


def _report_revision(url: str) -> None:
    """The migrations check: the restored schema revision against this code's head."""
    from alembic.script import ScriptDirectory

    from crm.db.migrate import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    current = _revision_or_none(url)
    if current in heads:
        console.print(f"schema revision {current}: at head, nothing to migrate")
    elif current is None:
        console.print("[yellow]no schema revision (crm.alembic_version is missing): not a CRM database?[/yellow]")
    else:
        console.print(f"[yellow]schema revision {current} is not this code's head ({', '.join(sorted(heads))})"
                      "[/yellow]: run `crm db up` (with DATABASE_URL set to it for another database) to migrate")


def _print_contents(url: str) -> None:
    from psycopg import sql

    with _connect(url) as conn:
        present = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'crm'")}
        counts = []
        for table in (name for name in KEY_TABLES if name in present):
            query = sql.SQL("SELECT count(*) FROM crm.{}").format(sql.Identifier(table))
            counts.append(f"{table} {conn.execute(query).fetchone()[0]}")
    console.print(f"{len(present)} tables in the crm schema; rows: {', '.join(counts) or 'none'}")
