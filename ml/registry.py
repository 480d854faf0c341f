"""MLflow naming and aliases: experiment = registered model name, new versions are `@challenger`, the one the API
serves is `@champion`. Tracking and registry live in PostgreSQL (the `mlflow` database), artifacts in a folder.

Training and promotion use the MLflow client. The API does not import MLflow (about 170 MB): it resolves the alias
with one SQL query on the registry tables (`champion_location`) and loads the LightGBM file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

CHALLENGER, CHAMPION = "challenger", "champion"
LEAD_MODEL = "lead_conversion_classifier"


def git_commit() -> str:
    """The checkout's commit, tagged on every training run (unknown outside a git checkout)."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def tracking_uri_for(database_url: str) -> str:
    """The MLflow store for a project database URL: the `mlflow` database on the same server."""
    from crm.db.urls import sqlalchemy_url, with_database

    return sqlalchemy_url(with_database(database_url, "mlflow"))


def registry_dsn(tracking_uri: str | None, database_url: str) -> str:
    """libpq form of the registry database, for reading aliases with psycopg (champion_location)."""
    from crm.db.urls import plain_url, with_database

    return plain_url(tracking_uri or with_database(database_url, "mlflow"))


def configure(tracking_uri: str, artifact_root: Path, experiment: str) -> str:
    """Points MLflow at the store and makes sure the experiment exists with its artifacts under `artifact_root`;
    returns the experiment id."""
    import logging

    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)  # MLflow migrates its schema on first use, loudly
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        mlflow.set_experiment(experiment_id=found.experiment_id)
        return found.experiment_id
    artifact_root.mkdir(parents=True, exist_ok=True)
    experiment_id = mlflow.create_experiment(experiment, artifact_location=(artifact_root / experiment).as_uri())
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


@dataclass(frozen=True)
class AliasedVersion:
    name: str
    alias: str
    version: int
    run_id: str | None
    model_uri: str  # models:/name/version


def aliased_version(name: str, alias: str) -> AliasedVersion | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        found = client.get_model_version_by_alias(name, alias)
    except MlflowException:  # no such model or alias yet
        return None
    return AliasedVersion(name, alias, int(found.version), found.run_id, f"models:/{name}/{found.version}")


def set_alias(name: str, alias: str, version: int) -> None:
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(name, alias, str(version))


def promote_challenger(name: str) -> AliasedVersion | None:
    """The challenger becomes champion (the challenger alias stays on it too, until the next one)."""
    challenger = aliased_version(name, CHALLENGER)
    if challenger is None:
        return None
    set_alias(name, CHAMPION, challenger.version)
    return aliased_version(name, CHAMPION)


CHAMPION_SQL = """
SELECT v.version, v.storage_location, v.source, v.run_id
FROM registered_model_aliases a JOIN model_versions v ON v.name = a.name AND v.version = a.version
WHERE a.name = %s AND a.alias = %s
"""


def champion_location(conn, name: str, alias: str = CHAMPION) -> tuple[int, Path] | None:  # noqa: ANN001
    """(version, local model folder) of `name@alias`, from MLflow's registry tables over a psycopg connection to
    the mlflow database; None when there is no such alias (or no registry yet)."""
    try:
        row = conn.execute(CHAMPION_SQL, (name, alias)).fetchone()
    except Exception:  # noqa: BLE001 - the registry tables appear with MLflow's first run
        conn.rollback()
        return None
    if row is None:
        return None
    version, storage, source, _ = row
    location = storage or source
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{name}@{alias} is stored at {location}; the API loads models from local files only")
    return int(version), Path(unquote(parsed.path))
