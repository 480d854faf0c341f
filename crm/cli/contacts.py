"""`crm contacts`: undo a merge the deduplication made (the serving layer's rows are never touched)."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="Golden contacts: undo a merge.", no_args_is_help=True)
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
