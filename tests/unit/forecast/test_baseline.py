from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.forecast import Baseline, daily_purchases, rfm_summary
from ml.forecast.synthetic import simulate_log

CUTOFF = pd.Timestamp("2024-09-27")  # 270 days into the simulated log


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return rfm_summary(daily_purchases(simulate_log(4000, seed=3)), CUTOFF)


def test_bgnbd_recovers_the_simulated_parameters(summary: pd.DataFrame) -> None:
    fitted = Baseline.fit(summary)
    bg, gg = fitted.bgnbd, fitted.gamma_gamma
    assert bg.r == pytest.approx(0.5, rel=0.15) and bg.alpha == pytest.approx(20.0, rel=0.2)
    assert bg.a == pytest.approx(0.8, rel=0.25) and bg.b == pytest.approx(2.5, rel=0.3)
    mean_spend = gg.p * gg.v / (gg.q - 1)  # E[spend] = p * v / (q - 1): simulated 6 * 15 / 3 = 30
    assert mean_spend == pytest.approx(30.0, rel=0.1)


def test_a_tiny_shop_gets_a_sane_fit() -> None:
    """Ten customers: the weak prior keeps dropout and heterogeneity in the model (the bare MLE drops both)."""
    summary = rfm_summary(daily_purchases(simulate_log(10, seed=4)), CUTOFF)
    fitted = Baseline.fit(summary)
    assert 0.05 < fitted.bgnbd.a < 20 and 0.05 < fitted.bgnbd.r < 20
    pred = fitted.predict(summary, 90)
    assert pred["expected_purchases"].between(0, 20).all() and pred["expected_spend"].between(1, 1000).all()


def test_predictions_are_coherent(summary: pd.DataFrame) -> None:
    fitted = Baseline.fit(summary)
    short, long = fitted.predict(summary, 30), fitted.predict(summary, 365)
    assert (long["expected_purchases"] >= short["expected_purchases"]).all()
    assert (long["p_purchase"] >= short["p_purchase"]).all()
    assert (long["p_purchase"] <= long["p_alive"] + 1e-12).all() and (long["p_alive"] <= 1).all()
    # a customer long silent after many purchases is likely gone: lower P(alive) than a recent one
    f, t, big_t = np.array([5.0, 5.0]), np.array([50.0, 250.0]), np.array([260.0, 260.0])
    alive = fitted.bgnbd.p_alive(f, t, big_t)
    assert alive[0] < 0.5 < alive[1]
    # Gamma-Gamma shrinks a customer's own mean spend toward the population's
    spend = fitted.gamma_gamma.expected_spend(np.array([1.0, 1.0, 0.0]), np.array([200.0, 5.0, 0.0]))
    assert 5.0 < spend[1] < spend[2] < spend[0] < 200.0


def test_matches_lifetimes(summary: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same likelihoods and conditional expectations as the reference implementation (without our weak prior)."""
    lifetimes = pytest.importorskip("lifetimes")
    monkeypatch.setattr("ml.forecast.baseline.PRIOR_CUSTOMERS", 0.0)
    f, r, big_t = summary["frequency"], summary["recency"], summary["T"]
    reference = lifetimes.BetaGeoFitter().fit(f, r, big_t)
    ours = Baseline.fit(summary).predict(summary, 180)
    theirs = reference.conditional_expected_number_of_purchases_up_to_time(180, f, r, big_t)
    np.testing.assert_allclose(ours["expected_purchases"], theirs, atol=2e-3)
    repeat = summary[summary["frequency"] > 0]
    spend = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    np.testing.assert_allclose(ours["expected_spend"],
                               spend.conditional_expected_average_profit(f, summary["monetary_value"]), rtol=2e-3)


def test_a_shop_without_repeat_buyers_forecasts_revenue_at_its_typical_first_purchase() -> None:
    from ml.forecast.baseline import GammaGamma

    spend = GammaGamma.fit(np.array([0.0, 0.0]), np.array([0.0, 0.0]), typical_spend=100.0)
    assert spend.expected_spend(np.array([0.0]), np.array([0.0]))[0] == 100.0, "not $1 per purchase"
