"""Flow 21 on the CRM's own data: what each customer will buy in the next weeks, what each open opportunity is
worth weighted by its chance of closing, and the weekly revenue both add up to. Pure (frames in, frames out); the
Dagster assets in orchestration/defs/ml/sales_assets.py read the crm tables and write the marts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ml.forecast.model import forecast
from ml.forecast.periods import Periods, daily_purchases, prepare_transactions


def customer_predictions(orders: pd.DataFrame, today: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """Per customer with a paid order up to today: ``contact_id, expected_purchases, expected_revenue, p_purchase``
    over the next `horizon_days` (the same model as `crm forecast`). `orders`: contact_id, placed_at, total."""
    if orders.empty:
        return pd.DataFrame(columns=["contact_id", "expected_purchases", "expected_revenue", "p_purchase", "method"])
    transactions = prepare_transactions(
        orders.assign(placed_at=pd.to_datetime(orders["placed_at"], utc=True).dt.tz_localize(None)),
        "contact_id", "placed_at", "total")
    periods = Periods(today.normalize(), today.normalize() + pd.Timedelta(days=horizon_days))
    result = forecast(daily_purchases(transactions), periods)
    out = result.predictions[["expected_purchases", "expected_revenue", "p_purchase"]].rename_axis(
        "contact_id").reset_index()
    out["contact_id"] = out["contact_id"].astype(np.int64)
    out["method"] = result.method
    return out


def opportunity_predictions(opportunities: pd.DataFrame, p_purchase: Mapping[int, float],
                            lead_probability: Mapping[int, float], base_rate: float) -> pd.DataFrame:
    """Open opportunities with ``close_probability`` and ``expected_value`` = probability × value. The probability
    is, in order: the one a person set on the opportunity, the lead model's for the contact, the customer's
    probability of buying again, the base rate of leads who bought; ``probability_source`` says which."""
    rows = []
    for opp in opportunities.itertuples(index=False):
        contact = int(opp.contact_id)
        if opp.probability is not None and not pd.isna(opp.probability):
            probability, source = float(opp.probability), "set_by_person"
        elif contact in lead_probability:
            probability, source = lead_probability[contact], "lead_model"
        elif contact in p_purchase:
            probability, source = p_purchase[contact], "purchase_forecast"
        else:
            probability, source = base_rate, "base_rate"
        value = float(opp.value or 0)
        rows.append({"opportunity_id": int(opp.id), "contact_id": contact, "stage": opp.stage, "value": value,
                     "expected_close_date": opp.expected_close_date, "close_probability": round(probability, 4),
                     "probability_source": source, "expected_value": round(probability * value, 2)})
    return pd.DataFrame(rows, columns=["opportunity_id", "contact_id", "stage", "value", "expected_close_date",
                                       "close_probability", "probability_source", "expected_value"])


def weekly_revenue(customers: pd.DataFrame, opportunities: pd.DataFrame, today: pd.Timestamp,
                   horizon_days: int) -> pd.DataFrame:
    """Expected revenue per week (Monday starts) of the horizon: repeat purchases spread evenly over the horizon's
    days, and each open opportunity's expected value in the week of its expected close date (the first week when
    it has none or it is past)."""
    start = today.normalize()
    days = pd.date_range(start + pd.Timedelta(days=1), periods=horizon_days, freq="D")
    per_day = float(customers["expected_revenue"].sum()) / horizon_days if len(customers) else 0.0
    repeat = pd.Series(per_day, index=days).groupby(days.to_period("W-SUN").start_time).sum()
    frame = pd.DataFrame({"week_start": repeat.index, "repeat_revenue": repeat.to_numpy()})
    frame["opportunity_revenue"] = 0.0
    first_week = frame["week_start"].min()
    for opp in opportunities.itertuples(index=False):
        close = pd.Timestamp(opp.expected_close_date) if opp.expected_close_date is not None and not pd.isna(
            opp.expected_close_date) else start
        week = max(close.to_period("W-SUN").start_time, first_week)
        if week in set(frame["week_start"]):
            frame.loc[frame["week_start"] == week, "opportunity_revenue"] += float(opp.expected_value)
    frame["expected_revenue"] = (frame["repeat_revenue"] + frame["opportunity_revenue"]).round(2)
    frame[["repeat_revenue", "opportunity_revenue"]] = frame[["repeat_revenue", "opportunity_revenue"]].round(2)
    frame["week_start"] = frame["week_start"].dt.date
    return frame
