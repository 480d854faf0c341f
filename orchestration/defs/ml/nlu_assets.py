"""The local NLU (intent and sentiment) retrained from the shipped corpus plus the labels people corrected,
registered as `nlu_text_models@challenger` and promoted by the same rule as the lead model; the API and the worker
pick up a new champion without a restart (serving/services/nlu_champion.py). (No `from __future__ import
annotations`: Dagster reads the config class from the annotations.)"""

import dagster as dg

from ml.nlu.retrain import NLU_MODEL
from orchestration.defs.ml.promotion import judge
from orchestration.defs.resources import MlflowResource, WarehouseResource
from orchestration.defs.warehouse_io import read_frame


class RetrainConfig(dg.Config):
    force: bool = False  # retrain even when no label changed since the last version


@dg.asset(deps=[dg.AssetKey(["crm", "label_feedback"])], group_name="ml", kinds={"scikitlearn", "mlflow"},
          key_prefix="ml")
def nlu_text_models(context: dg.AssetExecutionContext, config: RetrainConfig, warehouse: WarehouseResource,
                    mlflow_store: MlflowResource) -> dg.MaterializeResult:
    """Intent and sentiment models trained on the corpus and the corrected labels, scored on held-out examples of
    both, registered as @challenger (skipped when no correction is new)."""
    from crm.settings import get_settings
    from ml.nlu.engine import load_or_train
    from ml.nlu.retrain import Correction, retrain_nlu

    with warehouse.connect() as conn:
        rows = read_frame(conn, "SELECT text, intent, sentiment FROM crm.label_feedback ORDER BY created_at, id")
    corrections = [Correction(r.text, r.intent, r.sentiment) for r in rows.itertuples(index=False)]
    mlflow_store.activate(NLU_MODEL)
    result = retrain_nlu(corrections, load_or_train(get_settings().nlu_model_dir).models, force=config.force)
    if result.skipped:
        context.log.info(f"{NLU_MODEL} not retrained: {result.skipped}")
        return dg.MaterializeResult(metadata={"trained": False, "reason": result.skipped})
    return dg.MaterializeResult(metadata={"trained": True, "version": result.version, "mlflow_run_id": result.run_id,
                                          "corrections": result.feedback,
                                          **{k: round(v, 4) for k, v in result.metrics.items()}})


@dg.asset_check(asset=nlu_text_models, blocking=True,
                description="The retrained models beat the champion (at first: the shipped models) on the same "
                            "held-out examples (mean of intent and sentiment macro-F1); then they are promoted.")
def nlu_challenger_beats_champion(context: dg.AssetCheckExecutionContext,
                                  mlflow_store: MlflowResource) -> dg.AssetCheckResult:
    from crm.settings import get_settings
    from ml.nlu.engine import load_or_train
    from ml.nlu.retrain import nlu_challenger_gap

    mlflow_store.activate(NLU_MODEL)
    # Without a champion yet, the shipped models (served until then) are the ones to beat.
    return judge(NLU_MODEL, lambda: nlu_challenger_gap(shipped=load_or_train(get_settings().nlu_model_dir).models),
                 context.log)
