"""The lead-conversion model's features: their names and types, how a frame is prepared for LightGBM, the same
features for a live message, and each feature's contribution in plain words.

The training rows come from the dbt mart `marts.lead_features` (one per lead at its decision time); `live_features`
must compute the same columns for a message being scored now (a test holds them together).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from ml.nlu.types import INTENTS

NUMERIC = ["lead_score", "urgency_points", "decision_points", "budget_points", "product_fit_points", "signal_count",
           "intent_confidence", "sentiment_score", "message_length", "hour_of_day", "day_of_week",
           "inbound_messages_so_far", "conversations_so_far", "prior_orders", "prior_revenue",
           "days_since_last_order", "prior_avg_first_response_seconds"]
CATEGORICAL = {"primary_intent": [*INTENTS, "unknown"], "channel": ["whatsapp", "instagram", "messenger", "unknown"]}
FEATURES = [*NUMERIC, *CATEGORICAL]
LABEL = "converted_90d"


def model_frame(rows: pd.DataFrame, features: list[str] | None = None) -> pd.DataFrame:
    """The feature columns in model order, numbers as floats (missing stays NaN: LightGBM learns where it goes)
    and the categoricals with fixed levels, so training and serving encode them the same way. `features`: the
    columns a given model was trained on (`booster.feature_name()`; an older version may have fewer)."""
    frame = pd.DataFrame(index=rows.index)
    for column in features or FEATURES:
        if column in CATEGORICAL:
            levels = CATEGORICAL[column]
            values = rows[column].where(rows[column].isin(levels), "unknown")
            frame[column] = pd.Categorical(values, categories=levels)
        else:
            frame[column] = pd.to_numeric(rows[column], errors="coerce").astype(float)
    return frame


def live_features(analysis: Any, *, channel: str | None, at: datetime, history: Mapping[str, Any]) -> dict:
    """The mart's features for a message being scored now: `analysis` is the NLU result (ml.nlu NluResult or the
    serving layer's Understood), `history` the contact's counts up to now (inbound_messages_so_far including this
    message, conversations_so_far, prior_orders, prior_revenue, days_since_last_order; zeros for a stranger)."""
    points = {f.name: f.points for f in analysis.lead.factors}
    return {
        "lead_score": analysis.lead.score,
        "urgency_points": points.get("urgency", 0),
        "decision_points": points.get("decision_power", 0),
        "budget_points": points.get("budget", 0),
        "product_fit_points": points.get("product_fit", 0),
        "signal_count": len(analysis.lead.signals),
        "primary_intent": analysis.intent.primary_intent if analysis.intent else "unknown",
        "intent_confidence": analysis.intent.confidence if analysis.intent else 0.0,
        "sentiment_score": analysis.sentiment.score if analysis.sentiment else 0.0,
        "channel": channel or "unknown",
        "message_length": history.get("message_length", 0),
        "hour_of_day": at.hour,
        "day_of_week": at.isoweekday(),
        "inbound_messages_so_far": history.get("inbound_messages_so_far", 1),
        "conversations_so_far": history.get("conversations_so_far", 0),
        "prior_orders": history.get("prior_orders", 0),
        "prior_revenue": float(history.get("prior_revenue", 0) or 0),
        "days_since_last_order": history.get("days_since_last_order"),
        "prior_avg_first_response_seconds": history.get("prior_avg_first_response_seconds"),
    }


_WORDS = {
    "lead_score": "the rule score is {value:.0f}/100",
    "urgency_points": "urgency in the message ({value:.0f} points)",
    "decision_points": "speaks as the one who decides ({value:.0f} points)",
    "budget_points": "budget mentioned ({value:.0f} points)",
    "product_fit_points": "asks for products we sell ({value:.0f} points)",
    "signal_count": "{value:.0f} buying signals",
    "intent_confidence": "the intent was clear ({value:.0%})",
    "sentiment_score": "tone of the message ({value:+.2f})",
    "message_length": "a {value:.0f}-character message",
    "hour_of_day": "wrote at {value:.0f}:00",
    "day_of_week": "wrote on day {value:.0f} of the week",
    "inbound_messages_so_far": "{value:.0f} messages from them so far",
    "conversations_so_far": "{value:.0f} conversations so far",
    "prior_orders": "{value:.0f} earlier paid orders",
    "prior_revenue": "${value:,.0f} spent before",
    "days_since_last_order": "last order {value:.0f} days ago",
    "prior_avg_first_response_seconds": "we answered them in {value:.0f} s on average before",
}


def explain(feature: str, value: Any, contribution: float) -> str:
    """One factor in words a salesperson reads: what it is and which way it pushed."""
    if feature in CATEGORICAL:
        text = {"primary_intent": f"the message reads as {str(value).replace('_', ' ')}",
                "channel": f"wrote on {value}"}[feature]
    elif value is None or (isinstance(value, float) and pd.isna(value)):
        text = {"days_since_last_order": "has never bought from us",
                "prior_avg_first_response_seconds": "first conversation with us"}.get(
            feature, f"no {feature.replace('_', ' ')}")
    else:
        text = _WORDS.get(feature, feature.replace("_", " ") + " {value}").format(value=float(value))
    return f"{text[0].upper()}{text[1:]} → {'more' if contribution > 0 else 'less'} likely to buy"
