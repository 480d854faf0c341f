from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ml.forecast import daily_purchases, prepare_transactions

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "forecast" / "orders.csv"
CALIBRATION_END = pd.Timestamp("2024-06-30")
HOLDOUT_END = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    raw = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    return daily_purchases(prepare_transactions(raw, "customer", "order_date", "amount"))
