"""The lead-conversion model as an asset: trained from marts.lead_features and registered as @challenger; a
blocking check promotes it to @champion only when it beats the current champion on the same held-out leads.
Thin: the logic is in ml.leads.train and ml.registry. (No `from __future__ import annotations`: Dagster reads the
config class from the annotations.)"""

import dagster as dg

from ml.registry import LEAD_MODEL
from orchestration.defs.ml.promotion import judge
from orchestration.defs.resources import MlflowResource, WarehouseResource
from orchestration.defs.warehouse_io import read_frame


class TrainConfig(dg.Config):
    holdout_share: float = 0.25  # the most recent share of leads with a known outcome, held out
    num_boost_round: int = 400
    num_leaves: int = 4
    learning_rate: float = 0.02
    min_data_in_leaf: int = 80
    force: bool = False  # retrain even when the labelled leads have not changed since the last version

    def params(self) -> dict:
        return {"num_boost_round": self.num_boost_round, "num_leaves": self.num_leaves,
                "learning_rate": self.learning_rate, "min_data_in_leaf": self.min_data_in_leaf}


@dg.asset(deps=[dg.AssetKey(["marts", "lead_features"])], group_name="ml", kinds={"lightgbm", "mlflow"},
          key_prefix="ml")
def lead_conversion_model(context: dg.AssetExecutionContext, config: TrainConfig, warehouse: WarehouseResource,
                          mlflow_store: MlflowResource) -> dg.MaterializeResult:
    """Trains the conversion classifier on the earlier leads, evaluates it on the later ones and registers it as
    @challenger. With too few leads whose 90-day outcome is known, or the same ones as the last version, it trains
    nothing and says why."""
    from ml.leads.train import NotEnoughData, train_lead_conversion, trained_on_same_data

    with warehouse.connect() as conn:
        rows = read_frame(conn, "SELECT * FROM marts.lead_features")
    mlflow_store.activate(LEAD_MODEL)
    if not config.force and (same := trained_on_same_data(rows)) is not None:
        reason = f"no new labelled leads since version {same} was trained"
        context.log.info(f"lead_conversion_classifier not retrained: {reason}")
        return dg.MaterializeResult(metadata={"trained": False, "reason": reason})
    try:
        result = train_lead_conversion(rows, config.params(), holdout_share=config.holdout_share)
    except NotEnoughData as exc:
        context.log.warning(f"lead_conversion_classifier not trained: {exc}")
        return dg.MaterializeResult(metadata={"trained": False, "reason": str(exc)})
    return dg.MaterializeResult(metadata={
        "trained": True, "mlflow_run_id": result.run_id, "version": result.version, "held_out_from": result.cutoff,
        **{name: round(value, 4) for name, value in result.metrics.items()},
        "top_features": dg.MetadataValue.json(dict(list(result.importance.items())[:8])),
        "calibration": dg.MetadataValue.json(result.calibration)})


@dg.asset_check(asset=lead_conversion_model, blocking=True,
                description="The new model beats the champion on the same held-out leads (ROC AUC); then it is "
                            "promoted to @champion. The first model is promoted when there is none.")
def challenger_beats_champion(context: dg.AssetCheckExecutionContext,
                              mlflow_store: MlflowResource) -> dg.AssetCheckResult:
    from ml.leads.train import challenger_gap

    mlflow_store.activate(LEAD_MODEL)
    return judge(LEAD_MODEL, lambda: challenger_gap(LEAD_MODEL), context.log)
