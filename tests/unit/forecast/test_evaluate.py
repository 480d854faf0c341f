from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.forecast.evaluate import score_forecast, top_decile_lift


def test_scores_by_hand() -> None:
    pred = pd.DataFrame({"expected_purchases": [1.0, 0.0, 2.0, 0.5], "expected_revenue": [10.0, 0.0, 20.0, 5.0],
                         "p_purchase": [0.9, 0.1, 0.8, 0.2]}, index=["a", "b", "c", "d"])
    actual = pd.DataFrame({"purchases": [2, 0, 1], "revenue": [30.0, 0.0, 10.0]}, index=["a", "b", "c"])  # d: none
    s = score_forecast(pred, actual)
    assert s["purchases_mae"] == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert s["purchases_rmse"] == pytest.approx(np.sqrt((1 + 0 + 1 + 0.25) / 4))
    assert s["revenue_mae"] == pytest.approx((20 + 0 + 10 + 5) / 4)
    assert (s["purchases_predicted"], s["purchases_actual"]) == (3.5, 3.0)
    assert s["roc_auc"] == 1.0 and s["pr_auc"] == pytest.approx(1.0) and s["bought_share"] == 0.5


def test_top_decile_lift() -> None:
    bought = np.array([1] * 10 + [0] * 90)
    assert top_decile_lift(bought, -np.arange(100.0)) == pytest.approx(10.0)  # the 10 buyers ranked first
    assert top_decile_lift(bought, np.arange(100.0)) == 0.0
