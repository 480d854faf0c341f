"""Our forecast: BG/NBD + Gamma-Gamma corrected per customer by gradient boosting trained on the calibration
period's own past (a time-shifted split).

Inside the calibration period an earlier day plays the calibration end (an inner cutoff, a few of them): each
customer's features are computed up to it and labelled with what they did next (purchase days, spend per
purchase, bought again or not). LightGBM learns a correction on top of BG/NBD's forecast for that window (the
BG/NBD prediction is the model's starting score, so with nothing to learn it returns BG/NBD), and the
corrections are then applied to the features at the real calibration end.

The *level* (total purchases, mean P(buy), mean spend) is hedged. The corrections are learnt relative to each
inner window's own total, so on average they leave BG/NBD's level alone, but applied at the calibration end they
move it with the features (more recent activity, more forecast). The forecast's totals are the geometric mean of
BG/NBD's and the corrected ones: recent activity may be a season (CDNOW's December purchases do not announce a
busier January-June) or a real change that BG/NBD's memoryless buyers miss (regular buyers who have stopped).

When the forecast window is longer than the calibration period can teach, the corrections are learnt on a
shorter window and applied to BG/NBD's full-window forecast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ml.forecast.baseline import Baseline
from ml.forecast.features import customer_features
from ml.forecast.periods import Periods, rfm_summary, window_actuals

Progress = Callable[[str, int, int], None]
OUTPUT_COLUMNS = ["expected_purchases", "expected_revenue", "p_purchase"]

MIN_INNER_DAYS = 14          # a shorter inner window teaches too little
MIN_TRAIN_ROWS = 200         # below this the boosted models overfit: BG/NBD alone is the safer answer
MIN_TRAIN_BUYERS = 30        # customers who bought again in the inner windows
_LABELS = ("purchases", "revenue", "cutoff", "customer")


@dataclass(frozen=True)
class ModelConfig:
    inner_cutoffs: int = 3       # stacked inner cutoffs, `inner_step` x the inner horizon apart
    inner_step: float = 0.5
    max_rounds: int = 400        # boosting rounds are chosen by early stopping on held-out customers
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_data_in_leaf: int = 100
    l2: float = 10.0
    level_weight: float = 0.5    # log-weight of BG/NBD's totals against the models' own (1: BG/NBD's level)
    seed: int = 0
    threads: int = 1             # LightGBM's OpenMP threads spin: 2 ran 4-10x slower on a busy 2-core machine


@dataclass
class Forecast:
    """One row per customer known at calibration end: ``expected_purchases, expected_revenue, p_purchase``."""

    predictions: pd.DataFrame
    method: str                                  # "model" or "bgnbd" (the fallback)
    inner_horizon: int | None = None             # days the corrections were learnt on (None: not trained)
    notes: list[str] = field(default_factory=list)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _shift_to_mean(z: np.ndarray, target: float) -> float:
    """The logit shift s with mean(sigmoid(z + s)) = target."""
    if not 0.0 < target < 1.0:
        return 0.0
    return float(brentq(lambda s: _sigmoid(z + s).mean() - target, -30.0, 30.0))


def _inner_plan(daily: pd.DataFrame, periods: Periods, config: ModelConfig) -> tuple[int, list[pd.Timestamp]]:
    """The inner horizon (the forecast's, or half the calibration span when that is shorter) and its cutoffs."""
    first_day = daily["date"].min()
    span = int((periods.calibration_end - first_day).days)
    inner = min(periods.horizon_days, span // 2)
    step = max(int(round(inner * config.inner_step)), 1)
    cutoffs = [periods.calibration_end - pd.Timedelta(days=inner + k * step) for k in range(config.inner_cutoffs)]
    return inner, [c for c in cutoffs if c > first_day]


def _training_frame(daily: pd.DataFrame, cutoffs: list[pd.Timestamp], inner: int,
                    report: Progress, total: int) -> pd.DataFrame:
    frames = []
    for k, cutoff in enumerate(cutoffs):
        report(f"history to {cutoff:%Y-%m-%d}", k, total)
        feats, _, _ = customer_features(daily, cutoff, inner)
        labels = window_actuals(daily, cutoff, cutoff + pd.Timedelta(days=inner), feats.index)
        if labels["purchases"].sum() == 0:  # nobody bought again in this window: nothing to learn from it
            continue
        frame = feats.join(labels)
        frame["cutoff"] = k
        frame["customer"] = frame.index
        frames.append(frame.reset_index(drop=True))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _boost(config: ModelConfig, objective: str, x: np.ndarray, y: np.ndarray, init: np.ndarray,
           groups: np.ndarray, weight: np.ndarray | None = None) -> Any:
    """LightGBM from the starting score ``init``; rounds picked by early stopping on 20 % of the customers (all
    rows of a customer on the same side), then refitted on everything."""
    import lightgbm as lgb

    params = {"objective": objective, "learning_rate": config.learning_rate, "num_leaves": config.num_leaves,
              "min_data_in_leaf": config.min_data_in_leaf, "lambda_l2": config.l2, "feature_fraction": 0.8,
              "bagging_fraction": 0.8, "bagging_freq": 1, "seed": config.seed, "deterministic": True,
              "force_row_wise": True, "num_threads": config.threads, "verbose": -1}
    codes, unique = pd.factorize(groups)
    chosen = np.zeros(len(unique), dtype=bool)
    chosen[np.random.default_rng(config.seed).permutation(len(unique))[: max(len(unique) // 5, 1)]] = True
    held = chosen[codes]

    def data(mask: np.ndarray) -> lgb.Dataset:
        return lgb.Dataset(x[mask], y[mask], init_score=init[mask], weight=None if weight is None else weight[mask],
                           free_raw_data=True)

    probe = lgb.train(params, data(~held), config.max_rounds, valid_sets=[data(held)],
                      callbacks=[lgb.early_stopping(30, verbose=False)])
    rounds = max(probe.best_iteration or config.max_rounds, 1)
    return lgb.train(params, data(np.ones(len(y), dtype=bool)), rounds)


def _per_cutoff(train: pd.DataFrame, values: pd.Series) -> np.ndarray:
    return train["cutoff"].map(values).to_numpy(dtype=float)


def _baseline_forecast(daily: pd.DataFrame, periods: Periods, note: str) -> Forecast:
    summary = rfm_summary(daily, periods.calibration_end)
    pred = Baseline.fit(summary).predict(summary, periods.horizon_days)[OUTPUT_COLUMNS]
    return Forecast(pred, method="bgnbd", notes=[note])


def forecast(daily: pd.DataFrame, periods: Periods, config: ModelConfig | None = None,
             progress: Progress | None = None) -> Forecast:
    """Forecast purchase days, revenue and P(buys again) in (calibration end, holdout end] for every customer
    with a row on or before calibration end. ``daily`` is `daily_purchases` output (later rows are ignored)."""
    config = config or ModelConfig()
    report = progress or (lambda stage, done, total: None)
    daily = daily[daily["date"] <= periods.calibration_end]
    if daily.empty:
        raise ValueError("no transactions on or before the calibration end")
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        return _baseline_forecast(daily, periods, "lightgbm is not installed: BG/NBD + Gamma-Gamma only")
    inner, cutoffs = _inner_plan(daily, periods, config)
    steps = len(cutoffs) + 5
    if inner < MIN_INNER_DAYS or not cutoffs:
        return _baseline_forecast(daily, periods, f"calibration period too short to learn from its own past "
                                                  f"({inner}-day inner window < {MIN_INNER_DAYS}): BG/NBD + "
                                                  f"Gamma-Gamma only")
    train = _training_frame(daily, cutoffs, inner, report, steps)
    bought = train["purchases"].to_numpy() > 0 if len(train) else np.zeros(0, dtype=bool)
    if len(train) < MIN_TRAIN_ROWS or bought.sum() < MIN_TRAIN_BUYERS or bought.all():
        return _baseline_forecast(daily, periods, f"too little history to learn from ({len(train)} customer-"
                                                  f"windows, {int(bought.sum())} repeat buyers): BG/NBD + "
                                                  f"Gamma-Gamma only")

    columns = [c for c in train.columns if c not in _LABELS]
    x = train[columns].to_numpy(dtype=float)
    y = train["purchases"].to_numpy(dtype=float)
    groups = train["customer"].to_numpy()
    by_cut = train.groupby("cutoff")

    report("learn purchase days", len(cutoffs), steps)
    level = by_cut["purchases"].sum() / by_cut["bg_purchases"].sum()
    init = np.log(np.maximum(train["bg_purchases"].to_numpy(), 1e-9)) + np.log(_per_cutoff(train, level))
    counts = _boost(config, "poisson", x, y, init, groups)

    report("learn who buys again", len(cutoffs) + 1, steps)
    shift = pd.Series({k: _shift_to_mean(_logit(g["bg_p_purchase"].to_numpy()), float((g["purchases"] > 0).mean()))
                       for k, g in by_cut})
    init = _logit(train["bg_p_purchase"].to_numpy()) + _per_cutoff(train, shift)
    again = _boost(config, "binary", x, bought.astype(float), init, groups)

    report("learn spend per purchase", len(cutoffs) + 2, steps)
    spend_model = None
    per_purchase = train["revenue"].to_numpy()[bought] / y[bought]
    ok = per_purchase > 0
    if ok.sum() >= MIN_TRAIN_BUYERS:
        gg = np.maximum(train["gg_spend"].to_numpy()[bought][ok], 1e-9)
        weight = y[bought][ok]
        init = np.log(gg * np.average(per_purchase[ok] / gg, weights=weight))
        spend_model = _boost(config, "gamma", x[bought][ok], per_purchase[ok], init, groups[bought][ok], weight)

    report("forecast", len(cutoffs) + 3, steps)
    feats, summary, baseline = customer_features(daily, periods.calibration_end, inner)
    base = baseline.predict(summary, periods.horizon_days)
    xp = feats[columns].to_numpy(dtype=float)
    bg_purchases = base["expected_purchases"].to_numpy()
    purchases = bg_purchases * np.exp(counts.predict(xp, raw_score=True))
    purchases *= (bg_purchases.sum() / max(purchases.sum(), 1e-12)) ** config.level_weight
    z = _logit(base["p_purchase"].to_numpy()) + again.predict(xp, raw_score=True)
    p_buy = _sigmoid(z + config.level_weight * _shift_to_mean(z, float(base["p_purchase"].mean())))
    gg_spend = base["expected_spend"].to_numpy()
    spend = gg_spend
    if spend_model is not None:
        spend = gg_spend * np.exp(spend_model.predict(xp, raw_score=True))
        if purchases.sum() > 0:
            level = np.average(gg_spend, weights=purchases) / np.average(spend, weights=purchases)
            spend *= level**config.level_weight
    notes = [] if inner == periods.horizon_days else [
        f"corrections learnt on {inner}-day windows, applied to BG/NBD's {periods.horizon_days}-day forecast"]
    report("done", steps, steps)
    pred = pd.DataFrame({"expected_purchases": np.maximum(purchases, 0.0),
                         "expected_revenue": np.maximum(purchases * spend, 0.0),
                         "p_purchase": np.clip(p_buy, 0.0, 1.0)}, index=feats.index)
    return Forecast(pred, method="model", inner_horizon=inner, notes=notes)
