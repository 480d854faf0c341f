"""`crm forecast`: per-customer purchase, revenue and buy-again forecast from any transaction log (CSV)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer


def forecast(
    input_csv: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                     help="Transaction log: one row per order line or order."),
    customer: str = typer.Option(..., "--customer", help="Column with the customer id."),
    date: str = typer.Option(..., "--date", help="Column with the transaction date (a time part is ignored)."),
    amount: str = typer.Option(..., "--amount", help="Column with the amount (negative for returns)."),
    calibration_end: datetime = typer.Option(..., "--calibration-end", formats=["%Y-%m-%d"],
                                             help="Last day of the history used (inclusive), YYYY-MM-DD."),
    holdout_end: datetime = typer.Option(..., "--holdout-end", formats=["%Y-%m-%d"],
                                         help="Last day of the forecast window (inclusive), YYYY-MM-DD."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the forecast ('-' for standard "
                                                            "output)."),
    date_format: str = typer.Option(None, "--date-format", help="strptime format of the date column, e.g. "
                                                                "%d/%m/%Y (default: inferred)."),
    delimiter: str = typer.Option(",", help="Field delimiter of the input CSV."),
    seed: int = typer.Option(0, help="Random seed of the boosted models: the same seed gives the same result."),
) -> None:
    """Forecast, for every customer with a transaction on or before --calibration-end, the purchases, revenue
    and probability of buying again from the day after --calibration-end to --holdout-end (inclusive).

    Writes customer_id, expected_purchases, expected_revenue, p_purchase (one row per customer).

    A purchase is a customer-DAY: the rows of one customer on one day (dates with a time part are truncated to
    the day as written) are summed into one net amount. Negative amounts (returns, refunds) net against the same
    day's purchases; a day whose net amount is zero or less is not a purchase and adds no revenue, but it does make
    the customer known, so a customer with only returns still gets a row. Rows after --calibration-end are ignored.

    Method: BG/NBD + Gamma-Gamma, corrected per customer by gradient boosting trained on the calibration period's
    own past (BG/NBD alone when that period is too short to learn from; said on stderr)."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ml.forecast import ForecastInputError, ModelConfig, Periods, daily_purchases, prepare_transactions
    from ml.forecast import forecast as run_forecast

    console = Console(stderr=True)
    cal_end, hold_end = pd.Timestamp(calibration_end).normalize(), pd.Timestamp(holdout_end).normalize()
    try:
        periods = Periods(cal_end, hold_end)
    except ForecastInputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--holdout-end") from None

    if str(output) != "-" and not output.resolve().parent.is_dir():
        raise typer.BadParameter(f"folder {output.resolve().parent} does not exist", param_hint="--output")
    try:
        header = pd.read_csv(input_csv, nrows=0, sep=delimiter)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {input_csv}: {exc}", param_hint="INPUT_CSV") from None
    for column, hint in ((customer, "--customer"), (date, "--date"), (amount, "--amount")):
        if column not in header.columns:
            raise typer.BadParameter(f"column {column!r} is not in {input_csv.name} "
                                     f"(columns: {', '.join(map(str, header.columns))})", param_hint=hint)

    with Progress(TextColumn("[bold]forecast[/bold] {task.description:<28}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("read", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        try:
            raw = pd.read_csv(input_csv, sep=delimiter, dtype=str, keep_default_na=False,
                              usecols=list(dict.fromkeys([customer, date, amount])))
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {input_csv}: {exc}", param_hint="INPUT_CSV") from None
        bar.update(task, description=f"check {len(raw):,} rows")
        try:
            tx = prepare_transactions(raw, customer, date, amount, date_format)
        except ForecastInputError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"--{exc.field}") from None
        daily = daily_purchases(tx[tx["date"] <= periods.calibration_end])
        if tx.empty:
            raise typer.BadParameter(f"{input_csv.name} has no rows", param_hint="INPUT_CSV")
        if daily.empty:
            raise typer.BadParameter(f"no transactions on or before {periods.calibration_end:%Y-%m-%d} (the first "
                                     f"is on {tx['date'].min():%Y-%m-%d})", param_hint="--calibration-end")
        result = run_forecast(daily, periods, ModelConfig(seed=seed), progress=progress)
        bar.update(task, description="done", completed=1, total=1)

    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    out = result.predictions.reset_index()[["customer_id", "expected_purchases", "expected_revenue",
                                            "p_purchase"]]
    try:
        out.to_csv(sys.stdout if str(output) == "-" else output, index=False, float_format="%.6f")
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {output}: {exc.strerror or exc}", param_hint="--output") from None
    console.print(f"{len(out):,} customers ({len(tx):,} rows) -> {out['expected_purchases'].sum():,.1f} purchases, "
                  f"{out['expected_revenue'].sum():,.2f} revenue expected in {periods.horizon_days} days "
                  f"[{'BG/NBD + boosted corrections' if result.method == 'model' else 'BG/NBD + Gamma-Gamma'}]"
                  + ("" if str(output) == "-" else f"; wrote {output}"))


# This typer keeps single line breaks after the first paragraph of a help text: unwrap the paragraphs.
forecast.__doc__ = "\n\n".join(" ".join(p.split()) for p in (forecast.__doc__ or "").split("\n\n"))
