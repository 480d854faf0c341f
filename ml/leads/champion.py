"""The promoted lead-conversion model, loaded for scoring: `lead_conversion_classifier@champion` resolved with one
SQL query on MLflow's registry tables and its LightGBM file loaded directly (importing MLflow would cost a serving
process about 170 MB). Used by the API (hot-swapped, serving/services/lead_model.py) and the sales assets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import structlog

from ml.leads.features import explain, model_frame
from ml.registry import LEAD_MODEL, champion_location

log = structlog.get_logger(__name__)
BOOSTER_FILE = "model.lgb"  # what mlflow.lightgbm writes in the model folder


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: Any
    contribution: float  # log-odds the feature added (LightGBM pred_contrib)
    explanation: str


@dataclass(frozen=True)
class ModelScore:
    probability: float
    version: int
    top_factors: list[Contribution]


class ChampionModel:
    """Holds the current champion booster; `refresh` (blocking I/O, run it in a thread) reloads on a new version."""

    def __init__(self, mlflow_dsn: str, name: str = LEAD_MODEL) -> None:
        self.mlflow_dsn = mlflow_dsn
        self.name = name
        self.version: int | None = None
        self._booster = None

    @property
    def loaded(self) -> bool:
        return self._booster is not None

    def refresh(self) -> bool:
        """Looks up @champion; loads it when it is a version we don't hold. True when the model changed."""
        try:
            with psycopg.connect(self.mlflow_dsn, connect_timeout=5) as conn:
                found = champion_location(conn, self.name)
        except psycopg.OperationalError as exc:  # no mlflow database yet: nothing to serve
            log.debug("lead_model.registry_unreachable", error=str(exc).splitlines()[0])
            return False
        if found is None or found[0] == self.version:
            return False
        version, folder = found
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(folder / BOOSTER_FILE))
        self._booster, self.version = booster, version
        log.info("lead_model.loaded", model=self.name, version=version, folder=str(folder))
        return True

    def score(self, features: dict[str, Any], top: int = 3) -> ModelScore | None:
        """The probability of a paid order within 90 days and the `top` factors that moved it most."""
        booster, version = self._booster, self.version
        if booster is None or version is None:
            return None
        import pandas as pd

        names = booster.feature_name()  # the champion's own features (an older version may have fewer)
        frame = model_frame(pd.DataFrame([features]), names)
        probability = float(booster.predict(frame, num_threads=1)[0])
        contributions = booster.predict(frame, pred_contrib=True, num_threads=1)[0][:-1]  # last: the bias
        ranked = sorted(((name, value) for name, value in zip(names, contributions, strict=True) if value != 0),
                        key=lambda item: -abs(item[1]))[:top]
        return ModelScore(probability, version, [
            Contribution(name, features.get(name), round(float(value), 4), explain(name, features.get(name), value))
            for name, value in ranked])
