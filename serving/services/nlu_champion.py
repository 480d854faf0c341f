"""The NLU models the API and the worker use: the shipped ones until `nlu_text_models@champion` exists, then that
version, swapped in place when the alias moves (same lookup as the lead model: SQL on MLflow's registry, no MLflow
import)."""

from __future__ import annotations

import psycopg
import structlog

from ml.nlu.engine import MODEL_FILE, LocalAnalyzer
from ml.nlu.model import TextModels
from ml.nlu.retrain import NLU_MODEL
from ml.registry import champion_location

log = structlog.get_logger(__name__)


class NluChampion:
    """Keeps `analyzer.models` on the current champion; `refresh` (blocking, run it in a thread) swaps them."""

    def __init__(self, mlflow_dsn: str, analyzer: LocalAnalyzer) -> None:
        self.mlflow_dsn = mlflow_dsn
        self.analyzer = analyzer
        self.version: int | None = None

    def refresh(self) -> bool:
        try:
            with psycopg.connect(self.mlflow_dsn, connect_timeout=5) as conn:
                found = champion_location(conn, NLU_MODEL)
        except psycopg.OperationalError:
            return False
        if found is None or found[0] == self.version:
            return False
        version, folder = found
        path = next(folder.rglob(MODEL_FILE), None)
        if path is None:
            raise FileNotFoundError(f"{NLU_MODEL} version {version}: no {MODEL_FILE} under {folder}")
        self.analyzer.models = TextModels.load(path)  # one attribute swap: a message in flight keeps its models
        self.version = version
        log.info("nlu.champion_loaded", version=version)
        return True
