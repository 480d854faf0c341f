"""The dbt models (staging, intermediate, marts) as assets; dbt tests appear as asset checks. Sources map to
the crm_tables and warehouse assets, so lineage runs from the serving layer's tables to the marts."""

import os
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from crm.db.urls import dbt_env
from orchestration.defs.dbt.project import LOG_DIR, TARGET_DIR, crm_dbt_project, ensure_manifest
from orchestration.defs.resources import WarehouseResource


class CrmDbtTranslator(DagsterDbtTranslator):
    """Models are keyed by their schema (`marts/fct_orders`); sources by schema and table (`crm/contacts`)."""

    def get_asset_key(self, dbt_resource_props: dict[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props.get("config", {}).get("schema") or "dbt", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: dict[str, Any]) -> str:
        return "dbt"


@dbt_assets(manifest=ensure_manifest(), project=crm_dbt_project,
            dagster_dbt_translator=CrmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)))
def crm_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                   warehouse: WarehouseResource) -> Iterator[Any]:
    """`dbt build` of the selected models against the project database (connection from DATABASE_URL)."""
    os.environ.update(dbt_env(warehouse.dsn))
    os.environ["DBT_LOG_PATH"] = str(LOG_DIR)
    # Each run's compiled SQL and results under .local/dbt/ (git-ignored), never inside the project folder.
    target = TARGET_DIR.parent / "runs" / context.run.run_id
    yield from dbt.cli(["build"], context=context, target_path=target).stream()
