from __future__ import annotations

import pandas as pd
import pytest

from ml.forecast import ForecastInputError, Periods, prepare_transactions, rfm_summary, window_actuals
from ml.forecast.periods import parse_days

from .conftest import CALIBRATION_END, HOLDOUT_END


def test_rfm_summary_hand_computed(daily: pd.DataFrame) -> None:
    s = rfm_summary(daily, CALIBRATION_END)
    # C03 and L12 only buy after calibration end (L12 at 00:00 of the next day): unknown at the cutoff
    assert list(s.index) == ["A01", "B02", "D04", "E05", "F06", "G07", "H08", "I09", "J10", "K11"]
    expected = {  # frequency, recency, T, monetary_value, first_amount
        "A01": (3, 162, 172, (20 + 25 + 35) / 3, 30.0),  # three rows on 2024-01-10 are one purchase of 30
        "B02": (0, 0, 150, 0.0, 40.0),                  # one purchase only
        "D04": (1, 131, 177, 45.0, 50.0),               # a return-only day and a day netting to 0 are no purchase
        "E05": (0, 0, 112, 0.0, 0.0),                   # only a return: known, nothing bought
        "G07": (1, 119, 119, 95.0, 80.0),               # bought on calibration end at 23:59:59
        "I09": (1, 27, 56, 27.0, 33.0),                 # a zero-amount row adds to its day, not a purchase
        "K11": (0, 0, 20, 0.0, 19.98),
    }
    for customer, (f, r, t, m, first) in expected.items():
        row = s.loc[customer]
        assert (row["frequency"], row["recency"], row["T"]) == (f, r, t), customer
        assert row["monetary_value"] == pytest.approx(m) and row["first_amount"] == pytest.approx(first), customer


def test_days_collapse_into_one_purchase(daily: pd.DataFrame) -> None:
    a01 = daily[daily["customer_id"] == "A01"]
    first = a01[a01["date"] == pd.Timestamp("2024-01-10")]
    assert len(first) == 1 and first["amount"].iloc[0] == pytest.approx(30.0)
    d04 = daily[daily["customer_id"] == "D04"].set_index("date")
    assert not d04.loc[pd.Timestamp("2024-03-01"), "is_purchase"]  # -20: a return
    assert not d04.loc[pd.Timestamp("2024-04-01"), "is_purchase"]  # 30 - 30 = 0


def test_window_actuals_count_days(daily: pd.DataFrame) -> None:
    s = rfm_summary(daily, CALIBRATION_END)
    act = window_actuals(daily, CALIBRATION_END, HOLDOUT_END, s.index)
    assert act.loc["A01"].tolist() == [2, 80.0]  # 2024-08-15 has two rows: one purchase of 50, then 30
    assert act.loc["G07"].tolist() == [1, 70.0]  # holdout end is inclusive
    assert act.loc["B02"].tolist() == [0, 0.0]
    assert "C03" not in act.index


def test_dates_with_time_offsets_and_formats() -> None:
    values = pd.Series(["2024-03-01", "2024-03-01 23:59:59", "2024-03-01T10:00:00+05:00", "not a date", None])
    days = parse_days(values)
    assert days.iloc[:3].tolist() == [pd.Timestamp("2024-03-01")] * 3
    assert days.iloc[3:].isna().all()
    assert parse_days(pd.Series(["05/03/2024 10:00"]), "%d/%m/%Y %H:%M").iloc[0] == pd.Timestamp("2024-03-05")


def test_bad_input_is_reported_with_count_and_example() -> None:
    df = pd.DataFrame({"c": ["a", "b", "c"], "d": ["2024-01-01", "soon", "2024-13-45"], "x": ["1", "2", "3"]})
    with pytest.raises(ForecastInputError, match=r"unparseable dates .* 2 rows, e.g. line 3: 'soon'") as err:
        prepare_transactions(df, "c", "d", "x")
    assert err.value.field == "date"
    df = pd.DataFrame({"c": ["a", "b"], "d": ["2024-01-01", "2024-01-02"], "x": ["1.5", "12,00"]})
    with pytest.raises(ForecastInputError, match=r"non-numeric amounts in 1 row, e.g. line 3: '12,00'"):
        prepare_transactions(df, "c", "d", "x")
    with pytest.raises(ForecastInputError, match=r"column\(s\) 'amount' not in the input"):
        prepare_transactions(df, "c", "d", "amount")
    with pytest.raises(ForecastInputError, match="must be after"):
        Periods(pd.Timestamp("2024-01-31"), pd.Timestamp("2024-01-31"))
