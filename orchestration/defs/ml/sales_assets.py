"""Flow 21 as assets: per-customer purchase forecast and weighted open opportunities (`marts.sales_predictions`),
and the weekly revenue forecast (`marts.revenue_forecast_weekly`). Thin: the logic is ml.forecast.sales.
(No `from __future__ import annotations`: Dagster reads the config class from the annotations.)"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from orchestration.defs.resources import MlflowResource, WarehouseResource
from orchestration.defs.warehouse_io import read_frame, replace_table

# Orders the chat created have no placed_at: their creation time stands in (as in the dbt marts).
PAID_ORDERS_SQL = ("SELECT contact_id, coalesce(placed_at, created_at) AS placed_at, total FROM crm.orders WHERE "
                   "status IN ('paid', 'shipped', 'delivered') AND coalesce(placed_at, created_at) <= now()")
OPEN_OPPORTUNITIES_SQL = ("SELECT id, contact_id, value, stage, probability, expected_close_date FROM "
                          "crm.opportunities WHERE closed_at IS NULL AND stage NOT IN "
                          "('won', 'lost')")


class SalesConfig(dg.Config):
    horizon_days: int = 91  # 13 weeks


# Not downstream of the model asset: a rejected challenger (a normal outcome) must not stop the forecast, which
# reads whatever is @champion.
@dg.asset(deps=[dg.AssetKey(["crm", "orders"]), dg.AssetKey(["crm", "opportunities"]),
                dg.AssetKey(["marts", "lead_features"])],
          group_name="ml", kinds={"lightgbm", "postgres"}, key_prefix="marts")
def sales_predictions(context: dg.AssetExecutionContext, config: SalesConfig, warehouse: WarehouseResource,
                      mlflow_store: MlflowResource) -> dg.MaterializeResult:
    """Per customer: expected purchases and revenue over the horizon and the probability of buying again; per open
    opportunity: close probability × value. One table, `kind` = customer | opportunity."""
    from ml.forecast.sales import customer_predictions, opportunity_predictions

    today = pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    with warehouse.connect() as conn:
        orders = read_frame(conn, PAID_ORDERS_SQL)
        opportunities = read_frame(conn, OPEN_OPPORTUNITIES_SQL)
        leads = _lead_probabilities(conn, set(opportunities["contact_id"]) if len(opportunities) else set(),
                                    mlflow_store.uri())
        base_rate = conn.execute("SELECT coalesce(avg(converted_90d::int), 0.2) FROM marts.lead_features "
                                 "WHERE label_complete").fetchone()[0] if _has_lead_features(conn) else 0.2
        customers = customer_predictions(orders, today, config.horizon_days)
        p_purchase = dict(zip(customers["contact_id"], customers["p_purchase"], strict=True))
        opps = opportunity_predictions(opportunities, p_purchase, leads, float(base_rate))
        table = pd.concat([
            customers.assign(kind="customer", opportunity_id=None, value=None, close_probability=None,
                             probability_source=None, expected_value=None),
            opps.assign(kind="opportunity", expected_purchases=None, expected_revenue=None, p_purchase=None,
                        method=None)], ignore_index=True)[
            ["kind", "contact_id", "opportunity_id", "expected_purchases", "expected_revenue", "p_purchase",
             "value", "close_probability", "probability_source", "expected_value", "method"]]
        table = table.astype({"contact_id": "int64", "opportunity_id": "Int64", "expected_purchases": "float64",
                              "expected_revenue": "float64", "p_purchase": "float64", "value": "float64",
                              "close_probability": "float64", "expected_value": "float64"})
        table["horizon_days"] = config.horizon_days
        table["predicted_at"] = pd.Timestamp(datetime.now(UTC))
        replace_table(conn, table, "sales_predictions", schema="marts")
    run_id = _log_run(mlflow_store, config, customers, opps)
    return dg.MaterializeResult(metadata={"mlflow_run_id": run_id,
        "customers": len(customers), "open_opportunities": len(opps),
        "expected_repeat_revenue": round(float(customers["expected_revenue"].sum()), 2) if len(customers) else 0.0,
        "expected_opportunity_revenue": round(float(opps["expected_value"].sum()), 2) if len(opps) else 0.0,
        "method": str(customers["method"].iloc[0]) if len(customers) else "none"})


@dg.asset(deps=[sales_predictions], group_name="ml", kinds={"postgres"}, key_prefix="marts")
def revenue_forecast_weekly(config: SalesConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Expected revenue per week of the horizon: repeat purchases plus weighted open opportunities."""
    from ml.forecast.sales import weekly_revenue

    today = pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    with warehouse.connect() as conn:
        predictions = read_frame(conn, "SELECT * FROM marts.sales_predictions")
        customers = predictions[predictions["kind"] == "customer"]
        opportunities = read_frame(conn, "SELECT p.expected_value, o.expected_close_date FROM marts.sales_predictions "
                                         "p JOIN crm.opportunities o ON o.id = p.opportunity_id "
                                         "WHERE p.kind = 'opportunity'")
        weekly = weekly_revenue(customers.assign(expected_revenue=customers["expected_revenue"].astype(float)),
                                opportunities, today, config.horizon_days)
        replace_table(conn, weekly, "revenue_forecast_weekly", schema="marts")
    return dg.MaterializeResult(metadata={"weeks": len(weekly),
                                          "expected_revenue": round(float(weekly["expected_revenue"].sum()), 2)})


def _has_lead_features(conn) -> bool:  # noqa: ANN001
    return conn.execute("SELECT to_regclass('marts.lead_features') IS NOT NULL").fetchone()[0]


def _lead_probabilities(conn, contacts: set, tracking_uri: str) -> dict:  # noqa: ANN001
    """The served lead model's probability for these contacts' lead rows (empty without a champion)."""
    if not contacts or not _has_lead_features(conn) or not tracking_uri.startswith("postgresql"):
        return {}
    from crm.db.urls import plain_url
    from ml.leads.champion import ChampionModel

    model = ChampionModel(plain_url(tracking_uri))
    model.refresh()
    if not model.loaded:
        return {}
    # Only leads still inside their 90 days: after that the first-message probability says nothing new.
    rows = read_frame(conn, "SELECT * FROM marts.lead_features WHERE contact_id = ANY(%(ids)s) "
                            "AND NOT label_complete",
                      {"ids": [int(c) for c in contacts]})
    return {int(row["contact_id"]): result.probability for row in rows.to_dict("records")
            if (result := model.score(row)) is not None}


def _log_run(mlflow_store: MlflowResource, config: SalesConfig, customers: pd.DataFrame,
             opportunities: pd.DataFrame) -> str:
    """Each forecast is an MLflow run of the `sales_forecast` experiment: horizon, method, totals, the commit and
    the per-customer predictions (the boosters are refitted every run on the latest orders, not registered)."""
    import tempfile
    from pathlib import Path

    import mlflow

    from ml.registry import git_commit

    mlflow_store.activate("sales_forecast")
    with mlflow.start_run(run_name="sales-forecast") as run, tempfile.TemporaryDirectory() as folder:
        mlflow.log_params({"horizon_days": config.horizon_days, "customers": len(customers),
                           "open_opportunities": len(opportunities),
                           "method": str(customers["method"].iloc[0]) if len(customers) else "none"})
        mlflow.log_metrics({
            "expected_purchases": float(customers["expected_purchases"].sum()) if len(customers) else 0.0,
            "expected_repeat_revenue": float(customers["expected_revenue"].sum()) if len(customers) else 0.0,
            "likely_buyers": float((customers["p_purchase"] >= 0.5).sum()) if len(customers) else 0.0,
            "expected_opportunity_revenue": float(opportunities["expected_value"].sum()) if len(opportunities)
            else 0.0})
        mlflow.set_tags({"git_commit": git_commit()})
        path = Path(folder) / "customer_predictions.csv"
        customers.to_csv(path, index=False)
        mlflow.log_artifact(str(path))
    return run.info.run_id
