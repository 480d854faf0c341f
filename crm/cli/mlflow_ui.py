"""`crm mlflow`: the MLflow UI on the project's tracking store (the `mlflow` database) and artifact folder."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)


def mlflow_server_args(database_url: str, host: str, port: int) -> list[str]:
    from crm.settings import get_settings
    from ml.registry import tracking_uri_for

    settings = get_settings()
    store = settings.mlflow_tracking_uri or tracking_uri_for(database_url)
    settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    # --serve-artifacts off: runs write their artifacts straight into the folder; the UI reads them from there.
    return ["-m", "mlflow", "server", "--backend-store-uri", store,
            "--default-artifact-root", settings.mlflow_artifact_root.as_uri(), "--no-serve-artifacts",
            "--host", host, "--port", str(port), "--workers", "1"]


def mlflow_ui(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(5000, help="Port of the MLflow UI."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background; `crm stop` stops it."),
) -> None:
    """The MLflow UI: lead-model runs (params, metrics, calibration, feature importance) and the registry."""
    from crm.cli.db import ensure_database
    from crm.cli.processes import MLFLOW
    from crm.cli.ui import launch

    args = mlflow_server_args(ensure_database(), host, port)
    url = launch(MLFLOW, "MLflow", args, {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}, detach,
                 f"http://{host}:{port}", "/health", timeout_s=90)
    console.print(f"MLflow UI at {url}; logs in .run/mlflow.log; stop with `crm stop`.")
