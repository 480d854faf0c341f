"""Monitoring of the served lead model: feature and prediction drift (PSI, the last 30 days of leads vs the
training window) and live metrics on outcomes known since training, written to `warehouse.model_monitoring`
(the alerts read it). (No `from __future__ import annotations`: Dagster reads the config class.)"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from ml.registry import CHAMPION, LEAD_MODEL
from orchestration.defs.resources import MlflowResource, WarehouseResource
from orchestration.defs.warehouse_io import read_frame, table_exists, upsert_rows


MONITORING_DDL = """
CREATE SCHEMA IF NOT EXISTS warehouse;
CREATE TABLE IF NOT EXISTS warehouse.model_monitoring (
    feature text NOT NULL, metric text NOT NULL, value double precision, status text NOT NULL, model text NOT NULL,
    version bigint NOT NULL, computed_at timestamptz NOT NULL, run_id text NOT NULL, train_rows bigint,
    recent_rows bigint)
"""


class DriftConfig(dg.Config):
    recent_days: int = 30  # the window compared with the training leads


# Not downstream of the model asset: monitoring watches the @champion, whatever today's challenger did.
@dg.asset(deps=[dg.AssetKey(["marts", "lead_features"])], group_name="ml",
          kinds={"mlflow", "postgres"}, key_prefix="warehouse")
def model_monitoring(context: dg.AssetExecutionContext, config: DriftConfig, warehouse: WarehouseResource,
                     mlflow_store: MlflowResource) -> dg.MaterializeResult:
    """PSI per feature and for the predictions of lead_conversion_classifier@champion, and its live ROC AUC and
    Brier score on leads whose 90-day outcome arrived after its training data ended."""
    import mlflow

    from ml.leads.features import LABEL, model_frame
    from ml.monitoring import drift_report
    from ml.registry import aliased_version

    mlflow_store.activate(LEAD_MODEL)
    champion = aliased_version(LEAD_MODEL, CHAMPION)
    if champion is None:
        return dg.MaterializeResult(metadata={"monitored": False, "reason": "no champion yet"})
    cutoff = pd.Timestamp(mlflow.get_run(champion.run_id).data.params["held_out_from"])
    booster = mlflow.lightgbm.load_model(champion.model_uri)
    with warehouse.connect() as conn:
        rows = read_frame(conn, "SELECT * FROM marts.lead_features ORDER BY as_of")
    rows["as_of"] = pd.to_datetime(rows["as_of"], utc=True)
    cutoff = cutoff.tz_convert("UTC") if cutoff.tzinfo else cutoff.tz_localize("UTC")
    now = datetime.now(UTC)
    train = rows[rows["as_of"] < cutoff]
    recent = rows[rows["as_of"] >= pd.Timestamp(now - timedelta(days=config.recent_days))]
    known_since = rows[(rows["as_of"] >= cutoff) & rows["label_complete"].astype(bool)]
    names = booster.feature_name()  # the champion's features

    def predict(frame: pd.DataFrame):  # noqa: ANN202
        return booster.predict(model_frame(frame, names)) if len(frame) else None

    report = drift_report(model_frame(train, names), model_frame(recent, names), names, predict(train),
                          predict(recent), known_since[LABEL] if len(known_since) else None, predict(known_since))
    computed_at = pd.Timestamp(now)
    # One row per measure: `psi` per feature (and for `prediction`), and the live metrics of the `model`.
    drift = report.rows.rename(columns={"psi": "value"}).assign(metric="psi")
    live = pd.DataFrame([{"feature": "model", "metric": f"live_{name}", "value": value, "status": "ok"}
                         for name, value in report.live.items()])
    table = pd.concat([drift, live], ignore_index=True)[["feature", "metric", "value", "status"]].assign(
        model=LEAD_MODEL, version=champion.version, computed_at=computed_at, run_id=context.run.run_id,
        train_rows=report.train_rows, recent_rows=report.recent_rows)
    with warehouse.connect() as conn:
        conn.execute(MONITORING_DDL)  # a history (one batch of rows per run), so a fixed shape, not replaced
        upsert_rows(conn, table, "model_monitoring", key="run_id")
    shifted = report.rows[report.rows["status"].isin(["warn", "alert"])]
    return dg.MaterializeResult(metadata={
        "monitored": True, "version": champion.version, "worst": report.worst,
        "train_rows": report.train_rows, "recent_rows": report.recent_rows,
        "prediction_psi": float(report.rows.loc[report.rows["feature"] == "prediction", "psi"].iloc[0])
        if (report.rows["feature"] == "prediction").any() else float("nan"),
        "shifted_features": dg.MetadataValue.json(dict(zip(shifted["feature"], shifted["psi"], strict=True))),
        **{f"live_{k}": v for k, v in report.live.items()}})


@dg.asset_check(asset=model_monitoring, description="No feature or prediction shifted beyond PSI 0.25.")
def lead_model_inputs_are_stable(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        if not table_exists(conn, "model_monitoring"):
            return dg.AssetCheckResult(passed=True, metadata={"note": "nothing monitored yet"})
        latest = read_frame(conn, "SELECT feature, value, status FROM warehouse.model_monitoring WHERE metric = "
                                  "'psi' AND computed_at = (SELECT max(computed_at) FROM warehouse.model_monitoring)")
    alerts = latest[latest["status"] == "alert"]
    return dg.AssetCheckResult(passed=alerts.empty, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"alerts": dg.MetadataValue.json(dict(zip(alerts["feature"], alerts["value"],
                                                                                  strict=True)))})
