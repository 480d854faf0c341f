"""`crm contacts`: undo a merge the deduplication made; forget a person or export what is held about them."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="Contacts: undo a merge, forget a person, export their data.", no_args_is_help=True)
console = Console()


@app.command()
def unmerge(cluster_id: int = typer.Argument(..., help="The golden id (warehouse.contact_clusters.golden_id)."),
            contact: list[int] = typer.Option([], help="Split out only these contact ids (default: every member)."),
            ) -> None:
    """Split a cluster back into separate contacts, now and in every later deduplication run."""
    import psycopg

    from crm.cli.db import ensure_database
    from crm.db.urls import plain_url
    from orchestration.defs.contacts.assets import AUDIT_DDL, UNMERGES_DDL

    with psycopg.connect(plain_url(ensure_database())) as conn:
        exists = conn.execute("SELECT to_regclass('warehouse.contact_clusters')").fetchone()[0]
        members = [] if exists is None else [row[0] for row in conn.execute(
            "SELECT contact_id FROM warehouse.contact_clusters WHERE golden_id = %s ORDER BY contact_id",
            (cluster_id,)).fetchall()]
        if len(members) < 2:
            console.print(f"[red]no merged cluster {cluster_id}[/red] (see warehouse.contact_clusters)")
            raise typer.Exit(1)
        split = [c for c in members if not contact or c in contact]
        unknown = sorted(set(contact) - set(members))
        if unknown:
            console.print(f"[red]not in cluster {cluster_id}: {unknown}[/red]")
            raise typer.Exit(2)
        with conn.transaction():
            conn.execute(UNMERGES_DDL)
            conn.execute(AUDIT_DDL)
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO warehouse.contact_unmerges (contact_id, former_golden_id) "
                                   "VALUES (%s, %s) ON CONFLICT (contact_id) DO UPDATE SET "
                                   "former_golden_id = EXCLUDED.former_golden_id, unmerged_at = now()",
                                   [(c, cluster_id) for c in split])
                cursor.executemany("INSERT INTO warehouse.contact_merge_audit (action, golden_id, contact_id, note) "
                                   "VALUES ('unmerge', %s, %s, 'crm contacts unmerge')",
                                   [(cluster_id, c) for c in split])
            # Now, not only at the next run: each split contact is its own golden record.
            conn.execute("UPDATE warehouse.contact_clusters SET golden_id = contact_id, match_probability = NULL "
                         "WHERE contact_id = ANY(%s)", (split,))
            rest = [c for c in members if c not in split]
            if rest:
                conn.execute("UPDATE warehouse.contact_clusters SET golden_id = %s, "
                             "match_probability = CASE WHEN %s THEN NULL ELSE match_probability END "
                             "WHERE contact_id = ANY(%s)", (min(rest), len(rest) == 1, rest))
    console.print(f"cluster {cluster_id}: {len(split)} contact(s) split out ({', '.join(map(str, split))}); "
                  "kept apart in later runs")


def _in_session(work):  # noqa: ANN001, ANN202 - an async function of (session, settings); one committed transaction
    import asyncio

    from crm.cli.db import ensure_database
    from crm.db.engine import create_engine, session_factory
    from crm.settings import get_settings

    async def go():  # noqa: ANN202
        engine = create_engine(ensure_database())
        try:
            async with session_factory(engine)() as session:
                result = await work(session, get_settings())
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(go())


@app.command()
def forget(contact_id: int | None = typer.Argument(None, help="The contact's id."),
           phone: str | None = typer.Option(None, "--phone", help="Find them by phone, E.164 (+50761234567)."),
           email: str | None = typer.Option(None, "--email", help="Find them by email address."),
           include_duplicates: bool = typer.Option(
               False, "--include-duplicates", help="Also the contacts deduplication merged with them (a probabilistic "
                                                   "match: check the list first)."),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Remove a person's personal data everywhere it lives (crm tables, raw webhook bodies, media, warehouse and
    marts), keeping anonymous aggregates. Prints what was removed and checks nothing still holds their ids."""
    from rich.table import Table

    from serving.services.media.storage import store_from_settings
    from serving.services.privacy.erasure import find_contacts
    from serving.services.privacy.erasure import forget as erase
    from serving.services.retention import delete_unused_files

    if contact_id is None and not phone and not email:
        console.print("[red]say who: a CONTACT_ID, --phone or --email[/red]")
        raise typer.Exit(2)
    from serving.services.privacy.erasure import with_duplicates

    async def who(session, _):  # noqa: ANN001, ANN202
        found = await find_contacts(session, contact_id=contact_id, phone=phone, email=email)
        return found, (await with_duplicates(session, found, include_duplicates) if found else [])

    found, people = _in_session(who)
    if not found:
        console.print("[red]no contact matches[/red]")
        raise typer.Exit(1)
    found = people
    if not yes and not typer.confirm(f"Forget contact(s) {', '.join(map(str, found))} and their merged duplicates? "
                                     "This cannot be undone", default=False):
        raise typer.Exit(1)
    report = _in_session(lambda session, settings: erase(session, store_from_settings(settings), found,
                                                         source="cli", include_cluster=include_duplicates))
    _in_session(lambda session, settings: delete_unused_files(session, store_from_settings(settings), report.files))
    table = Table(title=f"Forgotten: contact(s) {', '.join(map(str, report.contact_ids))} "
                        f"(confirmation {report.confirmation_code})")
    table.add_column("where")
    table.add_column("rows", justify="right")
    for where, count in sorted(report.removed.items()):
        if count:
            table.add_row(where, str(count))
    console.print(table)
    if report.residue:
        console.print(f"[red]still found their identifiers in: {', '.join(report.residue)}[/red]")
        raise typer.Exit(1)
    console.print("searched every table of crm, the warehouse and the marts: none of their phone numbers, emails "
                  "or channel ids is left")


@app.command()
def export(contact_id: int = typer.Argument(..., help="The contact's id."),
           output: str | None = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout).")
           ) -> None:
    """Everything held about a person (and their merged duplicates), as JSON."""
    import json

    from serving.services.privacy.erasure import NothingToForget
    from serving.services.privacy.export import export_person

    try:
        data = _in_session(lambda session, _: export_person(session, contact_id))
    except NothingToForget as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if output:
        from pathlib import Path

        Path(output).write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {output}: " + ", ".join(f"{len(v)} {k}" for k, v in data.items() if isinstance(v, list)))
    else:
        print(text)
