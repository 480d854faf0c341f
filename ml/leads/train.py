"""Training, evaluation and promotion of lead_conversion_classifier (LightGBM on marts.lead_features).

A time-based split: the most recent leads whose 90-day outcome is known are held out, the model learns from the
earlier ones. Every run logs its parameters, held-out metrics (ROC AUC, PR AUC, Brier score, a calibration table),
feature importance, the git commit, and the model with its signature and an input example; the version is
registered as `@challenger`. The held-out rows are saved with the run, so a challenger and the champion are
compared on exactly the same data.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.leads.features import FEATURES, LABEL, model_frame
from ml.registry import CHALLENGER, CHAMPION, LEAD_MODEL, aliased_version, git_commit, set_alias

DEFAULT_PARAMS: dict[str, Any] = {
    # Shallow trees and big leaves: a few thousand noisy leads reward a simple model (deeper ones learn the noise).
    "objective": "binary", "learning_rate": 0.02, "num_leaves": 4, "min_data_in_leaf": 80,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "num_boost_round": 400, "seed": 7, "deterministic": True, "verbose": -1,
    # One thread: on a busy 2-core machine OpenMP threads spin against each other (400 rounds: 62 s on 2 threads
    # while another process ran, 0.08 s on 1), and a few thousand rows gain nothing from more.
    "num_threads": 1,
}
HELD_OUT_ARTIFACT = "held_out.parquet"


class NotEnoughData(ValueError):
    """Too few leads with a known outcome (or only one outcome) to train and evaluate."""


@dataclass
class TrainResult:
    run_id: str
    version: int | None
    metrics: dict[str, float]
    calibration: list[dict[str, float]]
    importance: dict[str, float]
    cutoff: str
    params: dict[str, Any] = field(default_factory=dict)


def time_split(rows: pd.DataFrame, holdout_share: float = 0.25, min_rows: int = 200
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leads with a complete label, oldest first; the last `holdout_share` of them are held out."""
    known = rows[rows["label_complete"].astype(bool)].sort_values(["as_of", "contact_id"], kind="mergesort")
    if len(known) < min_rows:
        raise NotEnoughData(f"{len(known)} leads with a known 90-day outcome; at least {min_rows} are needed")
    cut = int(round(len(known) * (1 - holdout_share)))
    train, held_out = known.iloc[:cut], known.iloc[cut:]
    for part, name in ((train, "training"), (held_out, "held-out")):
        if part[LABEL].astype(bool).nunique() < 2:
            raise NotEnoughData(f"the {name} period has only one outcome")
    return train, held_out


def evaluate(booster, held_out: pd.DataFrame) -> tuple[dict[str, float], list[dict[str, float]]]:  # noqa: ANN001
    """Held-out metrics and a 10-bin calibration table (mean predicted vs observed rate per decile of score)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = held_out[LABEL].astype(int).to_numpy()
    p = booster.predict(model_frame(held_out, booster.feature_name()))
    metrics = {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
               "brier": float(brier_score_loss(y, p)), "log_loss": float(log_loss(y, p, labels=[0, 1])),
               "base_rate": float(y.mean()), "held_out_rows": float(len(y))}
    bins = pd.qcut(pd.Series(p).rank(method="first"), q=min(10, len(p)), labels=False)
    table = (pd.DataFrame({"bin": bins, "p": p, "y": y}).groupby("bin")
             .agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), leads=("y", "size")).reset_index())
    calibration = [{k: (int(v) if k in ("bin", "leads") else round(float(v), 4)) for k, v in row.items()}
                   for row in table.to_dict("records")]
    return metrics, calibration


def data_fingerprint(rows: pd.DataFrame) -> str:
    """Identifies the labelled training data: the same leads, features and outcomes give the same value."""
    import hashlib

    known = rows[rows["label_complete"].astype(bool)].sort_values(["as_of", "contact_id"], kind="mergesort")
    hashed = pd.util.hash_pandas_object(known[["contact_id", "as_of", *FEATURES, LABEL]].astype(str), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]


def trained_on_same_data(rows: pd.DataFrame, name: str = LEAD_MODEL) -> int | None:
    """The version of the latest challenger if it was trained on exactly these labelled leads, else None."""
    import mlflow

    latest = aliased_version(name, CHALLENGER)
    if latest is None or latest.run_id is None:
        return None
    tags = mlflow.get_run(latest.run_id).data.tags
    return latest.version if tags.get("data_fingerprint") == data_fingerprint(rows) else None


def train_lead_conversion(rows: pd.DataFrame, params: dict[str, Any] | None = None, *,
                          holdout_share: float = 0.25, register: bool = True) -> TrainResult:
    """Trains on the earlier leads, evaluates on the later ones, logs the run to the active MLflow experiment and
    (if `register`) registers the model as `lead_conversion_classifier@challenger`. MLflow must be configured
    (ml.registry.configure)."""
    import lightgbm as lgb
    import mlflow
    from mlflow.models import infer_signature

    settings = {**DEFAULT_PARAMS, **(params or {})}
    rounds = int(settings.pop("num_boost_round"))
    train, held_out = time_split(rows, holdout_share)
    x_train = model_frame(train)
    booster = lgb.train(settings, lgb.Dataset(x_train, label=train[LABEL].astype(int)), num_boost_round=rounds)
    metrics, calibration = evaluate(booster, held_out)
    gains = booster.feature_importance(importance_type="gain")
    importance = {name: round(float(g) / max(float(gains.sum()), 1e-9), 4)
                  for name, g in sorted(zip(FEATURES, gains, strict=True), key=lambda item: -item[1])}
    cutoff = str(held_out["as_of"].min())

    with mlflow.start_run(run_name=f"lead-conversion-{cutoff[:10]}") as run:
        mlflow.log_params({**settings, "num_boost_round": rounds, "holdout_share": holdout_share,
                           "train_rows": len(train), "held_out_from": cutoff, "features": ",".join(FEATURES)})
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"git_commit": git_commit(), "model": LEAD_MODEL, "data_fingerprint": data_fingerprint(rows)})
        mlflow.log_dict({"calibration": calibration}, "calibration.json")
        mlflow.log_dict({"gain_share": importance}, "feature_importance.json")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / HELD_OUT_ARTIFACT
            held_out[["contact_id", "as_of", *FEATURES, LABEL]].to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
        example = x_train.head(5)
        info = mlflow.lightgbm.log_model(
            booster, name="model", signature=infer_signature(example, booster.predict(example)),
            input_example=example, pip_requirements=[f"lightgbm=={lgb.__version__}"],
            registered_model_name=LEAD_MODEL if register else None,
            # MLflow's check replays the example through JSON, which turns the categoricals into strings; the API
            # loads the booster itself and encodes them with ml.leads.features.model_frame.
            validate_serving_input=False)
    version = int(info.registered_model_version) if register and info.registered_model_version else None
    if version is not None:
        set_alias(LEAD_MODEL, CHALLENGER, version)
    return TrainResult(run.info.run_id, version, metrics, calibration, importance, cutoff,
                       {**settings, "num_boost_round": rounds})


def challenger_gap(name: str = LEAD_MODEL, metric: str = "roc_auc") -> dict[str, Any]:
    """Challenger minus champion on the challenger's held-out rows. `gap` is None when there is no champion yet
    (or the challenger already is it)."""
    import mlflow

    challenger = aliased_version(name, CHALLENGER)
    if challenger is None:
        raise LookupError(f"{name} has no @{CHALLENGER}")
    champion = aliased_version(name, CHAMPION)
    with tempfile.TemporaryDirectory() as folder:
        path = mlflow.artifacts.download_artifacts(run_id=challenger.run_id, artifact_path=HELD_OUT_ARTIFACT,
                                                   dst_path=folder)
        held_out = pd.read_parquet(path)
    scores = {"challenger": evaluate(mlflow.lightgbm.load_model(challenger.model_uri), held_out)[0][metric]}
    if champion is not None and champion.version != challenger.version:
        scores["champion"] = evaluate(mlflow.lightgbm.load_model(champion.model_uri), held_out)[0][metric]
    gap = scores["challenger"] - scores["champion"] if "champion" in scores else None
    return {"metric": metric, "gap": gap, "challenger_version": challenger.version,
            "champion_version": champion.version if champion else None,
            **{f"{who}_{metric}": round(value, 4) for who, value in scores.items()},
            "held_out_rows": int(len(held_out)), "positives": int(np.sum(held_out[LABEL].astype(int)))}
