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


@dg.definitions
def resources() -> dg.Definitions:
    from dagster_dbt import DbtCliResource

    from orchestration.defs.dbt.project import crm_dbt_project

    # The dbt installed beside this Python (the virtual environment is not always on PATH).
    dbt = DbtCliResource(project_dir=crm_dbt_project, dbt_executable=str(Path(sys.executable).parent / "dbt"))
    return dg.Definitions(resources={"warehouse": WarehouseResource(dsn=dg.EnvVar("DATABASE_URL")), "dbt": dbt})
