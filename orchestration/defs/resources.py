"""Resources shared by every domain. Secrets arrive through dg.EnvVar, resolved at run launch."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
import psycopg

from crm.db.urls import plain_url


class WarehouseResource(dg.ConfigurableResource):
    """The project's PostgreSQL: reads the `crm` schema, writes `warehouse`."""

    dsn: str

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(plain_url(self.dsn))


class MlflowResource(dg.ConfigurableResource):
    """Where models are tracked and registered: `tracking_uri` if given, else the `mlflow` database beside the
    project database; artifacts in `artifact_root` (default: the checkout's .local/mlflow/artifacts)."""

    database_url: str
    tracking_uri: str | None = None
    artifact_root: str | None = None

    def uri(self) -> str:
        from crm.settings import get_settings
        from ml.registry import tracking_uri_for

        return self.tracking_uri or get_settings().mlflow_tracking_uri or tracking_uri_for(self.database_url)

    def activate(self, experiment: str) -> str:
        """Points MLflow at this store and experiment; returns the tracking URI."""
        from crm.settings import get_settings
        from ml.registry import configure

        root = Path(self.artifact_root) if self.artifact_root else get_settings().mlflow_artifact_root
        configure(self.uri(), root, experiment)
        return self.uri()


@dg.definitions
def resources() -> dg.Definitions:
    from dagster_dbt import DbtCliResource

    from orchestration.defs.dbt.project import crm_dbt_project

    # The dbt installed beside this Python (the virtual environment is not always on PATH).
    dbt = DbtCliResource(project_dir=crm_dbt_project, dbt_executable=str(Path(sys.executable).parent / "dbt"))
    return dg.Definitions(resources={"warehouse": WarehouseResource(dsn=dg.EnvVar("DATABASE_URL")), "dbt": dbt,
                                     "mlflow_store": MlflowResource(database_url=dg.EnvVar("DATABASE_URL"))})
