"""PSI and the drift report: stable data reads stable, shifted data reads shifted, missing values count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.monitoring import drift_report, psi, status


def test_psi_is_near_zero_for_the_same_population_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(1)
    train = pd.Series(rng.normal(0, 1, 5000))
    assert psi(train, pd.Series(rng.normal(0, 1, 2000))) < 0.02
    assert psi(train, pd.Series(rng.normal(1.0, 1, 2000))) > 0.25
    assert 0.02 < psi(train, pd.Series(rng.normal(0.3, 1, 2000))) < 0.25


def test_psi_of_categories_and_missing_values() -> None:
    train = pd.Series(["whatsapp"] * 70 + ["instagram"] * 30)
    assert psi(train, pd.Series(["whatsapp"] * 69 + ["instagram"] * 31)) < 0.01
    assert psi(train, pd.Series(["messenger"] * 50 + ["whatsapp"] * 50)) > 0.25, "a level never seen in training"
    numbers = pd.Series(np.arange(100, dtype=float))
    assert psi(numbers, pd.Series([np.nan] * 40 + list(range(60)), dtype=float)) > 0.25, "missing values are a bin"
    assert np.isnan(psi(numbers, pd.Series([], dtype=float)))


def test_drift_report_flags_the_shifted_feature_and_scores_live_outcomes() -> None:
    rng = np.random.default_rng(2)
    train = pd.DataFrame({"a": rng.normal(0, 1, 3000), "b": rng.integers(0, 5, 3000).astype(float)})
    recent = pd.DataFrame({"a": rng.normal(0, 1, 500), "b": rng.integers(3, 8, 500).astype(float)})
    outcomes = pd.Series(rng.integers(0, 2, 200))
    report = drift_report(train, recent, ["a", "b"], rng.random(3000), rng.random(500), outcomes,
                          np.where(outcomes == 1, 0.8, 0.2))
    by_feature = dict(zip(report.rows["feature"], report.rows["status"], strict=True))
    assert by_feature == {"a": "ok", "b": "alert", "prediction": "ok"} and report.worst == "alert"
    assert report.live["roc_auc"] == 1.0 and report.live["leads"] == 200
    assert status(0.05) == "ok" and status(0.2) == "warn" and status(float("nan")) == "no_data"
