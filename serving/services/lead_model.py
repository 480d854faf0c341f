"""The lead-conversion model the API serves: `lead_conversion_classifier@champion`, loaded at start and swapped
when the alias moves (checked every LEAD_MODEL_REFRESH_S), without a restart.

The alias is resolved with one SQL query on MLflow's registry tables and the LightGBM file is loaded directly:
importing MLflow would cost the API process about 170 MB (see ml.registry).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import structlog

from ml.leads.features import FEATURES, explain, model_frame
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


def combined_score(rule_score: int, probability: float) -> int:
    """Half the rule score (what the message says) plus half the model's probability (what leads like this did)."""
    return max(0, min(100, round(0.5 * rule_score + 50 * probability)))


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

        frame = model_frame(pd.DataFrame([features]))
        probability = float(booster.predict(frame, num_threads=1)[0])
        contributions = booster.predict(frame, pred_contrib=True, num_threads=1)[0][:-1]  # last: the bias
        ranked = sorted(zip(FEATURES, contributions, strict=True), key=lambda item: -abs(item[1]))[:top]
        return ModelScore(probability, version, [
            Contribution(name, features.get(name), round(float(value), 4), explain(name, features.get(name), value))
            for name, value in ranked])


class Refreshable(Protocol):
    def refresh(self) -> bool: ...


async def keep_fresh(model: Refreshable, every_s: float) -> None:
    """Background task: picks up a newly promoted champion."""
    while True:
        try:
            await asyncio.to_thread(model.refresh)
        except Exception as exc:  # noqa: BLE001 - a bad moment of the registry must not end the loop
            log.warning("lead_model.refresh_failed", error=str(exc))
        await asyncio.sleep(every_s)
