"""`crm forecast` against BG/NBD + Gamma-Gamma (the `lifetimes` reference implementation) on held-out periods.

    .venv/bin/python bench/forecast.py                       # every split below
    .venv/bin/python bench/forecast.py --splits cdnow-classic cdnow-late --workdir /tmp/forecast-bench

Each split writes its log as a CSV, then runs, each in its own process (wall time and peak RSS are the process's):

- ``crm forecast``: the real command, ``--calibration-end`` / ``--holdout-end`` as in the split;
- ``lifetimes``: ``BetaGeoFitter`` + ``GammaGammaFitter`` (lifetimes 0.11.3, no penalizer) on lifetimes' own
  ``summary_data_from_transaction_data`` (days), the way its documentation forecasts; P(buys again) from its
  parameters (P(alive) x P(the posterior rate fires in the window));
- ``ours-bgnbd``: ``ml.forecast.baseline`` (our scipy BG/NBD + Gamma-Gamma, the model's starting point).

Every method is scored on the same actuals: purchase days (net amount > 0) and revenue per customer in the
forecast window (``ml.forecast.periods.window_actuals``), "bought again" = at least one purchase day there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

METHODS = ("crm forecast", "lifetimes", "ours-bgnbd")


@dataclass(frozen=True)
class Split:
    name: str
    log: str
    calibration_end: str
    holdout_end: str


SPLITS = {s.name: s for s in (
    Split("cdnow-classic", "cdnow", "1997-09-30", "1998-06-30"),
    Split("cdnow-late", "cdnow", "1997-12-31", "1998-06-30"),
    Split("cdnow-early", "cdnow", "1997-06-30", "1997-12-31"),
    Split("synthetic-bgnbd", "synthetic-bgnbd", "2024-09-27", "2025-03-26"),
    Split("synthetic-rhythmic", "synthetic-rhythmic", "2024-09-27", "2025-03-26"),
    Split("synthetic-500k", "synthetic-500k", "2024-09-27", "2025-03-26"),
)}


def write_log(name: str, path: Path) -> str | None:
    """Writes the log ``customer_id,date,amount`` to ``path``; returns the --date-format it needs (or None)."""
    import pandas as pd

    from ml.forecast.synthetic import simulate_log, simulate_rhythmic_log

    if name == "cdnow":  # read the file directly: lifetimes.datasets needs pkg_resources (setuptools)
        import lifetimes

        source = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
        raw = pd.read_csv(source, sep=r"\s+", dtype=str)
        raw.rename(columns={"dollar_value": "amount"})[["customer_id", "date", "amount"]].to_csv(path, index=False)
        return "%Y%m%d"
    if name == "synthetic-bgnbd":
        log = simulate_log(20_000, days=540, seed=11)
    elif name == "synthetic-rhythmic":
        log = simulate_rhythmic_log(20_000, days=540, seed=11)
    elif name == "synthetic-500k":  # ~100k customers, ~520k rows, with a time part on every row
        log = simulate_log(100_000, days=540, seed=12)
        log["date"] = log["date"] + pd.to_timedelta((log.index.to_numpy() * 7919) % 86_400, unit="s")
    else:
        raise SystemExit(f"unknown log {name}")
    log.to_csv(path, index=False)
    return None


def run_child(command: list[str], workdir: Path) -> tuple[float, float]:
    """Runs a command, returns (wall seconds, its own peak RSS in MB).

    Measured by GNU time: a child forked straight from this process starts with this process's peak RSS in its
    ``ru_maxrss`` (Linux keeps the high-water mark across fork and exec), and this process holds the logs."""
    report = workdir / "time.txt"
    timed = ["/usr/bin/time", "-f", "%e %M", "-o", str(report), *command] if Path("/usr/bin/time").exists() else None
    started = time.perf_counter()
    subprocess.run(timed or command, check=True)
    seconds = time.perf_counter() - started
    if timed is None:
        return seconds, float("nan")
    _, max_kb = report.read_text().split()[-2:]
    return seconds, int(max_kb) / 1024


def child_baseline(method: str, source: Path, date_format: str | None, calibration_end: str, holdout_end: str,
                   output: Path) -> None:
    """The baselines, as a user of each would run them: read the CSV, fit, forecast, write the same columns."""
    import numpy as np
    import pandas as pd

    cal_end, hold_end = pd.Timestamp(calibration_end), pd.Timestamp(holdout_end)
    horizon = (hold_end - cal_end).days
    df = pd.read_csv(source, dtype={"customer_id": str})
    df["date"] = pd.to_datetime(df["date"], format=date_format).dt.normalize()
    df = df[df["date"] <= cal_end]
    if method == "ours-bgnbd":
        from ml.forecast import Baseline, daily_purchases, prepare_transactions, rfm_summary

        summary = rfm_summary(daily_purchases(prepare_transactions(df, "customer_id", "date", "amount")), cal_end)
        pred = Baseline.fit(summary).predict(summary, horizon)
    else:
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import summary_data_from_transaction_data

        s = summary_data_from_transaction_data(df, "customer_id", "date", monetary_value_col="amount",
                                               observation_period_end=cal_end, freq="D")
        f, r, big_t, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]
        bgf = BetaGeoFitter().fit(f, r, big_t)
        repeat = (f > 0) & (m > 0)
        ggf = GammaGammaFitter().fit(f[repeat], m[repeat])
        purchases = bgf.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, big_t)
        spend = ggf.conditional_expected_average_profit(f, m.where(f > 0, 0.0))
        p = bgf.params_
        none_if_alive = ((p["alpha"] + big_t) / (p["alpha"] + big_t + horizon)) ** (p["r"] + f)
        pred = pd.DataFrame({"expected_purchases": purchases, "expected_revenue": purchases * spend,
                             "p_purchase": bgf.conditional_probability_alive(f, r, big_t) * (1 - none_if_alive)},
                            index=s.index.rename("customer_id"))
    pred = pred[["expected_purchases", "expected_revenue", "p_purchase"]].astype(float)
    assert np.isfinite(pred.to_numpy()).all()
    pred.reset_index().to_csv(output, index=False, float_format="%.6f")


def run_split(split: Split, workdir: Path, logs: dict[str, tuple[Path, str | None]]) -> list[dict[str, object]]:
    import pandas as pd

    from ml.forecast import daily_purchases, prepare_transactions, window_actuals
    from ml.forecast.evaluate import score_forecast

    if split.log not in logs:
        path = workdir / f"{split.log}.csv"
        logs[split.log] = (path, write_log(split.log, path))
    source, date_format = logs[split.log]
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    daily = daily_purchases(prepare_transactions(raw, "customer_id", "date", "amount", date_format))
    cal_end, hold_end = pd.Timestamp(split.calibration_end), pd.Timestamp(split.holdout_end)
    known = pd.Index(daily.loc[daily["date"] <= cal_end, "customer_id"].unique())
    actuals = window_actuals(daily, cal_end, hold_end, known)

    rows = []
    for method in METHODS:
        output = workdir / f"{split.name}-{method.replace(' ', '-')}.csv"
        if method == "crm forecast":
            command = [str(ROOT / ".venv" / "bin" / "crm"), "forecast", str(source), "--customer", "customer_id",
                       "--date", "date", "--amount", "amount", "--calibration-end", split.calibration_end,
                       "--holdout-end", split.holdout_end, "--output", str(output)]
            command += ["--date-format", date_format] if date_format else []
        else:
            command = [sys.executable, __file__, "--child", method, "--input", str(source), "--calibration-end",
                       split.calibration_end, "--holdout-end", split.holdout_end, "--output", str(output)]
            command += ["--date-format", date_format] if date_format else []
        seconds, peak_mb = run_child(command, workdir)
        pred = pd.read_csv(output, dtype={"customer_id": str}).set_index("customer_id")
        assert set(pred.index) == set(known), f"{method}: {len(pred)} customers, expected {len(known)}"
        scores = score_forecast(pred, actuals)
        rows.append({"split": split.name, "method": method, "rows": len(raw), "seconds": seconds,
                     "peak_mb": peak_mb, **scores})
        print(f"{split.name:20s} {method:14s} purchases MAE {scores['purchases_mae']:.4f} RMSE "
              f"{scores['purchases_rmse']:.4f} | revenue MAE {scores['revenue_mae']:.2f} RMSE "
              f"{scores['revenue_rmse']:.2f} | ROC {scores['roc_auc']:.4f} PR {scores['pr_auc']:.4f} | "
              f"{seconds:.1f} s {peak_mb:.0f} MB", flush=True)
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    lines = ["| split | method | purchases MAE | purchases RMSE | revenue MAE | revenue RMSE | purchases pred / "
             "actual | revenue pred / actual | ROC AUC | PR AUC | top-10% lift | s | peak MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['split']} | {r['method']} | {r['purchases_mae']:.4f} | {r['purchases_rmse']:.4f} | "
            f"{r['revenue_mae']:.2f} | {r['revenue_rmse']:.2f} | {r['purchases_predicted']:,.0f} / "
            f"{r['purchases_actual']:,.0f} | {r['revenue_predicted']:,.0f} / {r['revenue_actual']:,.0f} | "
            f"{r['roc_auc']:.4f} | {r['pr_auc']:.4f} | {r['top_decile_lift']:.2f} | {r['seconds']:.1f} | "
            f"{r['peak_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/forecast-bench"))
    parser.add_argument("--json", type=Path, default=None,
                        help="Where to write the results (default: bench/results).")
    parser.add_argument("--child", choices=METHODS[1:], help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--date-format", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--calibration-end", help=argparse.SUPPRESS)
    parser.add_argument("--holdout-end", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_baseline(args.child, args.input, args.date_format, args.calibration_end, args.holdout_end,
                       args.output)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    logs: dict[str, tuple[Path, str | None]] = {}
    rows = [row for name in args.splits for row in run_split(SPLITS[name], args.workdir, logs)]
    print()
    print(markdown(rows))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = args.json or ROOT / "bench" / "results" / f"forecast-{stamp}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(rows, indent=2))
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
