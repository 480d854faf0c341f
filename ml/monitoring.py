"""Model monitoring: population stability index (PSI) of each feature and of the predictions, recent window vs the
training window, and live metrics on leads whose outcome became known after training.

PSI = Σ (recent% − train%) · ln(recent% / train%) over bins fixed on the training data (deciles for numbers, the
levels for categories, plus a bin for missing). Common reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 a
shift worth acting on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WARN_PSI, ALERT_PSI = 0.1, 0.25
_EPS = 1e-4  # an empty bin counts as this share, so the log stays finite


def psi(train: pd.Series, recent: pd.Series, bins: int = 10) -> float:
    """PSI of `recent` against `train` (numbers binned at the training deciles; anything else by value)."""
    if len(train) == 0 or len(recent) == 0:
        return float("nan")
    if pd.api.types.is_numeric_dtype(train) and not isinstance(train.dtype, pd.CategoricalDtype):
        values = train.dropna().astype(float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1))) if len(values) else np.array([0.0])
        edges[0], edges[-1] = -np.inf, np.inf
        if len(edges) < 2:
            edges = np.array([-np.inf, np.inf])

        def shares(series: pd.Series) -> np.ndarray:
            numbers = series.astype(float)
            counts = np.histogram(numbers.dropna(), bins=edges)[0]
            return np.append(counts, numbers.isna().sum()) / len(series)
    else:
        levels = sorted(set(train.astype(str)) | set(recent.astype(str)))

        def shares(series: pd.Series) -> np.ndarray:
            return series.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy() / len(series)
    expected, actual = np.clip(shares(train), _EPS, None), np.clip(shares(recent), _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def status(value: float) -> str:
    if np.isnan(value):
        return "no_data"
    return "alert" if value > ALERT_PSI else ("warn" if value > WARN_PSI else "ok")


@dataclass
class DriftReport:
    rows: pd.DataFrame  # one per feature (and `prediction`): feature, psi, status
    train_rows: int
    recent_rows: int
    live: dict[str, float]  # roc_auc / brier / leads on outcomes known since training, when there are enough

    @property
    def worst(self) -> str:
        order = ["ok", "no_data", "warn", "alert"]
        return max(self.rows["status"], key=order.index) if len(self.rows) else "no_data"


def drift_report(train: pd.DataFrame, recent: pd.DataFrame, features: list[str],
                 train_predictions: np.ndarray | None = None, recent_predictions: np.ndarray | None = None,
                 outcomes: pd.Series | None = None, outcome_predictions: np.ndarray | None = None) -> DriftReport:
    """PSI per feature and for the predictions; live ROC AUC and Brier score where outcomes are given."""
    rows = [{"feature": name, "psi": psi(train[name], recent[name])} for name in features]
    if train_predictions is not None and recent_predictions is not None:
        rows.append({"feature": "prediction", "psi": psi(pd.Series(train_predictions), pd.Series(recent_predictions))})
    frame = pd.DataFrame(rows)
    frame["psi"] = frame["psi"].round(4)
    frame["status"] = frame["psi"].map(status)
    live: dict[str, float] = {}
    if outcomes is not None and outcome_predictions is not None and len(outcomes) >= 30 and outcomes.nunique() == 2:
        from sklearn.metrics import brier_score_loss, roc_auc_score

        y = outcomes.astype(int).to_numpy()
        live = {"roc_auc": round(float(roc_auc_score(y, outcome_predictions)), 4),
                "brier": round(float(brier_score_loss(y, outcome_predictions)), 4), "leads": float(len(y))}
    return DriftReport(frame, len(train), len(recent), live)
