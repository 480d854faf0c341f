"""The models' part of `make demo`: a past of leads and their outcomes is written once (so the conversion model has
something to learn from), and after the Dagster run the champion's held-out metrics and the reasons behind a few
of today's hottest open leads are gathered for the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
import psycopg

from crm.db.urls import plain_url

HISTORY_LEADS = 3000
HISTORY_SEED = 7


def load_history(database_url: str, leads: int = HISTORY_LEADS) -> int:
    """The synthetic lead history, once per database (0 when it is already there)."""
    from crm.settings import get_settings
    from ml.nlu.engine import load_or_train
    from ml.leads.history_store import history_loaded, load_lead_history

    with psycopg.connect(plain_url(database_url)) as conn:
        if history_loaded(conn, HISTORY_SEED):
            return 0
        analyzer = load_or_train(get_settings().nlu_model_dir)
        return load_lead_history(conn, analyzer, leads, datetime.now(UTC), seed=HISTORY_SEED)


@dataclass
class HotLead:
    contact_id: int
    probability: float
    rule_score: int
    reasons: list[str]


@dataclass
class ModelSummary:
    nlu: str = "the shipped models"
    version: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    hot_leads: list[HotLead] = field(default_factory=list)


def lead_model_summary(database_url: str, tracking_uri: str | None, top: int = 3) -> ModelSummary:
    """The @champion's held-out metrics, and its top reasons for the `top` most likely buyers among open leads."""
    import pandas as pd

    from ml.leads.champion import ChampionModel

    from ml.registry import registry_dsn, tracking_uri_for

    model = ChampionModel(registry_dsn(tracking_uri, database_url))
    model.refresh()
    summary = ModelSummary(version=model.version)
    summary.nlu = _nlu_champion(registry_dsn(tracking_uri, database_url),
                                tracking_uri or tracking_uri_for(database_url))
    if not model.loaded:
        return summary
    from mlflow import MlflowClient

    from ml.registry import LEAD_MODEL

    client = MlflowClient(tracking_uri or tracking_uri_for(database_url))
    run_id = client.get_model_version(LEAD_MODEL, str(model.version)).run_id
    summary.metrics = dict(client.get_run(run_id).data.metrics)
    with psycopg.connect(plain_url(database_url)) as conn:
        cursor = conn.execute("SELECT * FROM marts.lead_features WHERE NOT label_complete "
                              "ORDER BY as_of DESC LIMIT 500")
        open_leads = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    scored: list[HotLead] = []
    for row in open_leads.to_dict("records"):
        result = model.score(row)
        if result is not None:
            scored.append(HotLead(int(row["contact_id"]), result.probability, int(row["lead_score"]),
                                  [c.explanation for c in result.top_factors]))
    summary.hot_leads = sorted(scored, key=lambda lead: -lead.probability)[:top]
    return summary



def sales_summary(database_url: str) -> dict[str, float] | None:
    """Totals of the sales forecast marts (None before they exist)."""
    with psycopg.connect(plain_url(database_url)) as conn:
        if not conn.execute("SELECT to_regclass('marts.revenue_forecast_weekly') IS NOT NULL").fetchone()[0]:
            return None
        weeks, repeat, opportunities = conn.execute(
            "SELECT count(*), sum(repeat_revenue), sum(opportunity_revenue) FROM marts.revenue_forecast_weekly"
        ).fetchone()
        customers, likely = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE p_purchase >= 0.5) FROM marts.sales_predictions "
            "WHERE kind = 'customer'").fetchone()
    return {"weeks": weeks, "repeat": float(repeat or 0), "opportunities": float(opportunities or 0),
            "customers": customers, "likely_buyers": likely}


def _nlu_champion(mlflow_dsn: str, tracking_uri: str) -> str:
    """Which NLU models serve, with their scores: a promoted version, or the shipped ones."""
    from ml.nlu.retrain import NLU_MODEL
    from ml.registry import champion_location

    with psycopg.connect(mlflow_dsn) as conn:
        found = champion_location(conn, NLU_MODEL)
    if found is None:
        return "the shipped models (no corrected labels yet: POST /api/v1/feedback/labels)"
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    metrics = client.get_run(client.get_model_version(NLU_MODEL, str(found[0])).run_id).data.metrics
    return (f"{NLU_MODEL}@champion v{found[0]}: intent macro-F1 {metrics.get('intent_macro_f1', 0):.3f}, "
            f"sentiment {metrics.get('sentiment_macro_f1', 0):.3f}")
