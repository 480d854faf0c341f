"""From a raw transaction log to purchase days and per-customer RFM summaries at a cutoff.

Every model here counts purchase *days*: the rows of one customer on one day are summed into one net amount, and
a day is a purchase when that net amount is positive. Days netting to zero or less (returns, refunds, voids) are
not purchases; they only make a customer known (so a customer with nothing but returns still gets a forecast).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd


class ForecastInputError(ValueError):
    """The transaction log or the periods cannot be used; the message says what to fix, ``field`` which input
    (``customer``, ``date``, ``amount``, ``columns`` or ``periods``) is at fault."""

    def __init__(self, message: str, field: str = "periods") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Periods:
    """Calibration = every day up to and including ``calibration_end``; forecast = the days after it up to and
    including ``holdout_end``."""

    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp

    def __post_init__(self) -> None:
        if self.holdout_end <= self.calibration_end:
            raise ForecastInputError(f"holdout end {self.holdout_end:%Y-%m-%d} must be after calibration end "
                                     f"{self.calibration_end:%Y-%m-%d}")

    @property
    def horizon_days(self) -> int:
        return int((self.holdout_end - self.calibration_end).days)


def _example(values: pd.Series, mask: np.ndarray) -> str:
    first, count = int(np.flatnonzero(mask)[0]), int(mask.sum())
    return f"{count:,} row{'s' if count > 1 else ''}, e.g. line {first + 2}: {values.iloc[first]!r}"  # header, 1-based


def parse_days(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates (with or without a time part or an offset) truncated to their calendar day as written; NaT where a
    value cannot be read. Parses each distinct string once, which is what keeps large logs fast."""
    if pd.api.types.is_datetime64_any_dtype(values):  # already dates (a database column): keep the wall-clock day
        stamps = values.dt.tz_localize(None) if values.dt.tz is not None else values
        return stamps.dt.normalize().astype("datetime64[ns]")
    text = values.astype("string").str.strip()
    uniques = pd.Series(text.dropna().unique(), dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if date_format:
            parsed = pd.to_datetime(uniques, format=date_format, errors="coerce")
        else:
            parsed = pd.to_datetime(uniques, errors="coerce")
            if parsed.dtype == object or parsed.isna().any():  # mixed layouts or offsets: element by element
                parsed = pd.to_datetime(uniques, errors="coerce", format="mixed")
    if parsed.dtype == object:  # mixed UTC offsets: keep each value's own wall-clock day
        parsed = pd.Series([pd.NaT if pd.isna(v) else pd.Timestamp(v).tz_localize(None) for v in parsed],
                           dtype="datetime64[ns]")
    elif getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    lookup = pd.Series(pd.DatetimeIndex(parsed).normalize(), index=uniques.astype(str))
    return pd.Series(text.map(lookup).to_numpy(dtype="datetime64[ns]"), index=values.index)


def prepare_transactions(df: pd.DataFrame, customer: str, date: str, amount: str,
                         date_format: str | None = None) -> pd.DataFrame:
    """Validated ``customer_id`` (str), ``date`` (day), ``amount`` (float) rows; raises ForecastInputError with
    counts and an example when a column is missing or a value cannot be read."""
    missing = [c for c in (customer, date, amount) if c not in df.columns]
    if missing:
        raise ForecastInputError(f"column(s) {', '.join(map(repr, missing))} not in the input "
                                 f"(columns: {', '.join(map(str, df.columns))})", field="columns")
    ids = df[customer].astype("string").str.strip()
    no_id = (ids.isna() | (ids == "")).to_numpy()
    if no_id.any():
        raise ForecastInputError(f"empty customer id in {_example(df[customer], no_id)}", field="customer")
    days = parse_days(df[date], date_format)
    bad_date = days.isna().to_numpy()
    if bad_date.any():
        hint = f" with --date-format {date_format!r}" if date_format else " (pass --date-format, e.g. %d/%m/%Y)"
        raise ForecastInputError(f"unparseable dates{hint} in {_example(df[date], bad_date)}", field="date")
    raw_amount = df[amount]
    if pd.api.types.is_numeric_dtype(raw_amount):
        amounts = raw_amount.astype(float)
    else:
        amounts = pd.to_numeric(raw_amount.astype("string").str.strip(), errors="coerce").astype(float)
    bad_amount = ~np.isfinite(amounts.to_numpy(dtype=float, na_value=np.nan))
    if bad_amount.any():
        raise ForecastInputError(f"non-numeric amounts in {_example(raw_amount, bad_amount)}", field="amount")
    return pd.DataFrame({"customer_id": ids.astype(str).to_numpy(), "date": days.to_numpy(),
                         "amount": amounts.to_numpy()})


def daily_purchases(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and day: ``customer_id, date, amount`` (net) and ``is_purchase`` (net > 0)."""
    daily = (transactions.groupby(["customer_id", "date"], sort=True, observed=True)["amount"].sum()
             .reset_index())
    daily["is_purchase"] = daily["amount"] > 0
    return daily


SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value", "first_amount"]


def rfm_summary(daily: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The BG/NBD inputs at ``cutoff``, in days, for every customer with a row on or before it.

    frequency = repeat purchase days; recency = first to last purchase day; T = first purchase day to cutoff;
    monetary_value = mean net amount of the repeat purchase days (0 without repeats, as Gamma-Gamma wants);
    first_amount = the first purchase day's amount. A customer with no purchase day yet is born on the first day
    they appear, with frequency 0.
    """
    known = daily[daily["date"] <= cutoff]
    customers = pd.Index(known["customer_id"].unique(), name="customer_id")
    buys = known[known["is_purchase"]]
    grouped = buys.groupby("customer_id", sort=False)
    first_buy = grouped["date"].min()
    last_buy = grouped["date"].max()
    n_days = grouped.size()
    total = grouped["amount"].sum()
    first_amount = buys.loc[grouped["date"].idxmin(), ["customer_id", "amount"]].set_index("customer_id")["amount"]
    first_seen = known.groupby("customer_id", sort=False)["date"].min()

    birth = first_buy.reindex(customers).fillna(first_seen.reindex(customers))
    frequency = (n_days.reindex(customers).fillna(0) - 1).clip(lower=0)
    recency = (last_buy.reindex(customers) - first_buy.reindex(customers)).dt.days.fillna(0)
    repeat_total = (total - first_amount).reindex(customers).fillna(0.0)
    out = pd.DataFrame({
        "frequency": frequency.astype(int),
        "recency": recency.astype(float),
        "T": (cutoff - birth).dt.days.astype(float),
        "monetary_value": np.where(frequency > 0, repeat_total / frequency.where(frequency > 0, 1), 0.0),
        "first_amount": first_amount.reindex(customers).fillna(0.0),
    }, index=customers)
    return out.sort_index()


def window_actuals(daily: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                   customers: pd.Index) -> pd.DataFrame:
    """Purchase days and revenue of ``customers`` in the window (start, end]: what a forecast is scored on."""
    inside = daily[(daily["date"] > start) & (daily["date"] <= end) & daily["is_purchase"]]
    grouped = inside.groupby("customer_id", sort=False)["amount"]
    out = pd.DataFrame({"purchases": grouped.size(), "revenue": grouped.sum()}).reindex(customers).fillna(0.0)
    out["purchases"] = out["purchases"].astype(int)
    return out
