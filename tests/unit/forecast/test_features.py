from __future__ import annotations

import pandas as pd
import pytest

from ml.forecast.features import customer_features

from .conftest import CALIBRATION_END


def test_rhythm_and_recent_activity_by_hand(daily: pd.DataFrame) -> None:
    feats, summary, _ = customer_features(daily, CALIBRATION_END, 90)
    assert list(feats.index) == list(summary.index)
    a01 = feats.loc["A01"]  # purchase days 01-10, 02-14, 04-01, 06-20: gaps 35, 47, 80
    assert a01["gap_mean"] == pytest.approx(54.0) and a01["gap_last"] == 80.0
    assert a01["days_since_last"] == 10 and a01["overdue"] == pytest.approx(10 / 54)
    # windows are the last w days, (cutoff - w, cutoff]: 04-01 is exactly 90 days back, outside the 90-day one
    assert (a01["days_last_30"], a01["days_last_90"], a01["days_last_180"]) == (1, 1, 4)
    assert a01["revenue_last_90"] == 35.0 and a01["revenue_last_180"] == pytest.approx(110.0)
    assert a01["last_amount"] == 35.0
    assert feats.loc["D04", "return_days"] == 2  # the -20 day and the day netting to zero
    assert pd.isna(feats.loc["B02", "gap_mean"]) and feats.loc["B02", "days_since_last"] == 150


def test_features_do_not_depend_on_row_order(daily: pd.DataFrame) -> None:
    shuffled = daily.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(customer_features(daily, CALIBRATION_END, 90)[0],
                                  customer_features(shuffled, CALIBRATION_END, 90)[0])
