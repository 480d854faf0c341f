"""Per-customer features at a cutoff: RFM, recent activity windows, purchase rhythm, and the BG/NBD view."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.forecast.baseline import Baseline
from ml.forecast.periods import rfm_summary

WINDOWS = (30, 90, 180, 365)


def _group_sum(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=n)


def customer_features(daily: pd.DataFrame, cutoff: pd.Timestamp, horizon: float
                      ) -> tuple[pd.DataFrame, pd.DataFrame, Baseline]:
    """Features of every customer known at ``cutoff`` (rows of `rfm_summary`), the summary itself, and the BG/NBD +
    Gamma-Gamma fitted on it. Only rows on or before ``cutoff`` are read, so a past cutoff sees no future."""
    summary = rfm_summary(daily, cutoff)
    baseline = Baseline.fit(summary)
    bg = baseline.predict(summary, horizon)
    n = len(summary)

    known = daily[daily["date"] <= cutoff]
    buys = known[known["is_purchase"]]
    codes = summary.index.get_indexer(buys["customer_id"])
    age = (cutoff - buys["date"]).dt.days.to_numpy()
    order = np.lexsort((-age, codes))  # by customer, then oldest purchase first
    codes, age, amount = codes[order], age[order], buys["amount"].to_numpy(dtype=float)[order]
    last = np.r_[codes[1:] != codes[:-1], True] if len(codes) else np.zeros(0, dtype=bool)

    out: dict[str, np.ndarray] = {}
    f, recency, big_t = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    n_days = np.bincount(codes, minlength=n).astype(float)
    total = _group_sum(codes, amount, n)
    out["frequency"] = f
    out["recency"] = recency
    out["T"] = big_t
    out["days_since_last"] = np.where(n_days > 0, big_t - recency, big_t)
    out["recency_share"] = np.where(big_t > 0, recency / np.maximum(big_t, 1.0), 1.0)
    out["rate"] = (f + 1.0) / (big_t + 1.0)
    for w in WINDOWS:
        recent = age < w
        out[f"days_last_{w}"] = np.bincount(codes[recent], minlength=n).astype(float)
        out[f"revenue_last_{w}"] = _group_sum(codes[recent], amount[recent], n)
    out["revenue_total"] = total
    out["spend_mean"] = np.where(n_days > 0, total / np.maximum(n_days, 1.0), 0.0)
    spend_max = np.zeros(n)
    np.maximum.at(spend_max, codes, amount)
    out["spend_max"] = spend_max
    out["first_amount"] = summary["first_amount"].to_numpy(dtype=float)
    out["monetary_value"] = summary["monetary_value"].to_numpy(dtype=float)
    last_amount = np.zeros(n)
    last_amount[codes[last]] = amount[last]
    out["last_amount"] = last_amount

    # purchase rhythm: gaps between consecutive purchase days of a customer
    same = np.r_[False, codes[1:] == codes[:-1]][: len(codes)]
    step = np.r_[0.0, -np.diff(age).astype(float)][: len(codes)]
    gaps, gap_codes = step[same], codes[same]
    gap_n = np.bincount(gap_codes, minlength=n).astype(float)
    gap_sum = _group_sum(gap_codes, gaps, n)
    gap_sq = _group_sum(gap_codes, gaps * gaps, n)
    mean_gap = np.where(gap_n > 0, gap_sum / np.maximum(gap_n, 1.0), np.nan)
    var_gap = np.where(gap_n > 1, gap_sq / np.maximum(gap_n, 1.0) - np.nan_to_num(mean_gap) ** 2, np.nan)
    last_gap = np.full(n, np.nan)
    last_gap[codes[last & same]] = step[last & same]
    out["gap_mean"] = mean_gap
    out["gap_cv"] = np.sqrt(np.maximum(var_gap, 0.0)) / np.where(mean_gap > 0, mean_gap, np.nan)
    out["gap_last"] = last_gap
    out["overdue"] = out["days_since_last"] / np.where(mean_gap > 0, mean_gap, np.nan)

    returns = known[~known["is_purchase"]]
    ret_codes = summary.index.get_indexer(returns["customer_id"])
    out["return_days"] = np.bincount(ret_codes, minlength=n).astype(float)

    out["bg_purchases"] = bg["expected_purchases"].to_numpy()
    out["bg_p_purchase"] = bg["p_purchase"].to_numpy()
    out["bg_p_alive"] = bg["p_alive"].to_numpy()
    out["gg_spend"] = bg["expected_spend"].to_numpy()
    return pd.DataFrame(out, index=summary.index), summary, baseline
