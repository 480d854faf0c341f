"""`crm dedup`: find the rows of any CSV that describe the same person (or thing), with the `ml.dedup` engine."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

ROLE_LIST = ("first_name, last_name, full_name, phone, email, address, street_number, city, postcode, state, date, "
             "national_id, text")


def _parse_field_specs(specs: list[str]) -> dict[str, str]:
    from ml.dedup.roles import ROLES

    fields: dict[str, str] = {}
    for spec in specs:
        column, sep, role = spec.rpartition(":")
        column, role = column.strip(), role.strip().lower()
        if not sep or not column or not role:
            raise typer.BadParameter(f"{spec!r} is not COLUMN:ROLE (roles: {ROLE_LIST})", param_hint="--field")
        if role not in ROLES:
            raise typer.BadParameter(f"unknown role {role!r} in {spec!r} (roles: {ROLE_LIST})", param_hint="--field")
        if column in fields:
            raise typer.BadParameter(f"column {column!r} is given twice", param_hint="--field")
        fields[column] = role
    return fields


def dedup(
    input_csv: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The CSV to deduplicate."),
    id_column: str = typer.Option(..., "--id", help="Column with a unique id for each row."),
    field: list[str] = typer.Option(..., "--field", help=f"COLUMN:ROLE, repeated. Roles: {ROLE_LIST}."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write id,cluster_id,match_probability "
                                                            "('-' for standard output)."),
    threshold: float = typer.Option(0.9, "--threshold", min=0.0, max=1.0,
                                    help="Link two rows when their match probability is at least this."),
    exact: list[str] = typer.Option([], "--exact", help="A field whose equal values are trusted as the same "
                                                        "entity (e.g. a verified email), repeated."),
    phone_region: str = typer.Option(None, "--phone-region", help="Region for national phone numbers (e.g. MX)."),
    pairs_output: Path = typer.Option(None, "--pairs", help="Also write the scored candidate pairs here."),
    seed: int = typer.Option(42, help="Random seed of the u sampling: the same seed gives the same result."),
    delimiter: str = typer.Option(",", help="Field delimiter of the input CSV."),
) -> None:
    """Deduplicate any CSV: every input row once in the output, with its cluster and best in-cluster match."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ml.dedup import DedupError, deduplicate

    console = Console(stderr=True)
    fields = _parse_field_specs(field)
    if threshold <= 0:
        raise typer.BadParameter("must be greater than 0", param_hint="--threshold")
    try:
        df = pd.read_csv(input_csv, dtype=str, keep_default_na=False, sep=delimiter)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {input_csv}: {exc}", param_hint="INPUT_CSV") from None
    for column in [id_column, *fields]:
        if column not in df.columns:
            hint = "--id" if column == id_column else "--field"
            raise typer.BadParameter(f"column {column!r} is not in {input_csv.name} "
                                     f"(columns: {', '.join(df.columns)})", param_hint=hint)
    for key in exact:
        if key not in fields:
            raise typer.BadParameter(f"{key!r} must also be given as --field", param_hint="--exact")

    with Progress(TextColumn("[bold]dedup[/bold] {task.description:<16}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("starting", total=6)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        try:
            result = deduplicate(df, id_column, fields, threshold=threshold, progress=progress, seed=seed,
                                 phone_region=phone_region, exact_keys=exact)
        except DedupError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None

    out = result.clusters
    if str(output) == "-":
        out.to_csv(sys.stdout, index=False, float_format="%.6f")
    else:
        out.to_csv(output, index=False, float_format="%.6f")
    if pairs_output is not None:
        result.pairs.to_csv(pairs_output, index=False, float_format="%.6f")
    n_clusters = out["cluster_id"].nunique()
    duplicates = len(out) - n_clusters
    console.print(f"{len(out):,} rows -> {n_clusters:,} clusters ({duplicates:,} rows merged into another) at "
                  f"threshold {threshold} in {result.seconds:.1f} s"
                  + ("" if str(output) == "-" else f"; wrote {output}"))
