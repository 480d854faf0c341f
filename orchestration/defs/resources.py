"""Resources shared by every domain. Secrets arrive through dg.EnvVar, resolved at run launch."""

from __future__ import annotations

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
    return dg.Definitions(resources={"warehouse": WarehouseResource(dsn=dg.EnvVar("DATABASE_URL"))})
