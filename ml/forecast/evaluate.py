"""Scores a forecast against what customers did in the holdout: per-customer errors, totals, and ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score


def top_decile_lift(bought: np.ndarray, score: np.ndarray) -> float:
    """Share of buyers among the 10 % highest scores over the share among everyone (ties broken by order)."""
    k = max(int(round(len(score) * 0.1)), 1)
    top = np.argsort(-score, kind="stable")[:k]
    base = bought.mean()
    return float(bought[top].mean() / base) if base > 0 else float("nan")


def score_forecast(predictions: pd.DataFrame, actuals: pd.DataFrame) -> dict[str, float]:
    """``predictions`` (expected_purchases, expected_revenue, p_purchase) against ``actuals`` (purchases,
    revenue), both indexed by customer; every predicted customer is scored, absent actuals count as zero."""
    act = actuals.reindex(predictions.index).fillna(0.0)
    out: dict[str, float] = {"customers": float(len(predictions))}
    for pred_col, act_col, name in (("expected_purchases", "purchases", "purchases"),
                                    ("expected_revenue", "revenue", "revenue")):
        err = predictions[pred_col].to_numpy(dtype=float) - act[act_col].to_numpy(dtype=float)
        out[f"{name}_mae"] = float(np.mean(np.abs(err)))
        out[f"{name}_rmse"] = float(np.sqrt(np.mean(err**2)))
        out[f"{name}_predicted"] = float(predictions[pred_col].sum())
        out[f"{name}_actual"] = float(act[act_col].sum())
    bought = (act["purchases"].to_numpy() > 0).astype(int)
    score = predictions["p_purchase"].to_numpy(dtype=float)
    both = 0 < bought.sum() < len(bought)
    out["bought_share"] = float(bought.mean())
    out["roc_auc"] = float(roc_auc_score(bought, score)) if both else float("nan")
    out["pr_auc"] = float(average_precision_score(bought, score)) if both else float("nan")
    out["top_decile_lift"] = top_decile_lift(bought, score)
    return out
