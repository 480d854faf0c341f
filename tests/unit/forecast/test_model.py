from __future__ import annotations

import pandas as pd

from ml.forecast import (
    Baseline,
    Periods,
    daily_purchases,
    forecast,
    rfm_summary,
    window_actuals,
)
from ml.forecast.evaluate import score_forecast
from ml.forecast.synthetic import simulate_log, simulate_rhythmic_log

START = pd.Timestamp("2024-01-01")
PERIODS = Periods(START + pd.Timedelta(days=300), START + pd.Timedelta(days=480))


def _compare(log: pd.DataFrame) -> tuple[dict[str, float], dict[str, float], str]:
    daily = daily_purchases(log)
    summary = rfm_summary(daily, PERIODS.calibration_end)
    actual = window_actuals(daily, PERIODS.calibration_end, PERIODS.holdout_end, summary.index)
    base = score_forecast(Baseline.fit(summary).predict(summary, PERIODS.horizon_days), actual)
    ours = forecast(daily, PERIODS)
    assert list(ours.predictions.index) == list(summary.index)
    return base, score_forecast(ours.predictions, actual), ours.method


def test_on_a_bgnbd_process_it_keeps_up_with_bgnbd() -> None:
    """BG/NBD is the true model here, so it is the one to match: no more than 2 % worse, and a useful ranking."""
    base, ours, method = _compare(simulate_log(3000, seed=5, days=480))
    assert method == "model"
    assert ours["purchases_mae"] <= base["purchases_mae"] * 1.02
    assert ours["purchases_rmse"] <= base["purchases_rmse"] * 1.02
    assert ours["roc_auc"] > 0.7 and ours["roc_auc"] >= base["roc_auc"] - 0.01


def test_on_rhythmic_buyers_it_beats_bgnbd() -> None:
    """Regular buyers are not BG/NBD's memoryless ones: the purchase rhythm features must pay off."""
    base, ours, method = _compare(simulate_rhythmic_log(3000, seed=5))
    assert method == "model"
    assert ours["purchases_mae"] < base["purchases_mae"] * 0.85
    assert ours["revenue_mae"] < base["revenue_mae"] * 0.85
    assert ours["roc_auc"] > base["roc_auc"] + 0.005


def test_same_seed_same_forecast_and_sane_values() -> None:
    daily = daily_purchases(simulate_log(1500, seed=9, days=480))
    first, again = forecast(daily, PERIODS), forecast(daily, PERIODS)
    pd.testing.assert_frame_equal(first.predictions, again.predictions)
    pred = first.predictions
    assert (pred[["expected_purchases", "expected_revenue"]] >= 0).all().all()
    assert pred["p_purchase"].between(0, 1).all()


def test_long_window_is_stretched_and_short_history_falls_back() -> None:
    daily = daily_purchases(simulate_log(1500, seed=9, days=480))
    long = Periods(START + pd.Timedelta(days=200), START + pd.Timedelta(days=480))  # 280 days after 200 of history
    result = forecast(daily, long)
    assert result.method == "model" and result.inner_horizon == 100
    assert "applied to BG/NBD's 280-day forecast" in result.notes[0]
    short = Periods(START + pd.Timedelta(days=20), START + pd.Timedelta(days=200))
    result = forecast(daily, short)
    assert result.method == "bgnbd" and "too short" in result.notes[0]
    assert result.predictions["expected_purchases"].gt(0).all()


def test_rows_after_calibration_end_are_not_seen() -> None:
    log = simulate_log(1500, seed=9, days=480)
    cut = log[log["date"] <= PERIODS.calibration_end]
    full = forecast(daily_purchases(log), PERIODS).predictions
    pd.testing.assert_frame_equal(full, forecast(daily_purchases(cut), PERIODS).predictions)


def test_too_few_customers_fall_back_to_bgnbd() -> None:
    log = simulate_log(5, seed=1, days=480)
    result = forecast(daily_purchases(log), PERIODS)
    assert result.method == "bgnbd" and "too little history" in result.notes[0]
