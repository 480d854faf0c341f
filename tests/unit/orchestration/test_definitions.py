"""The Dagster code location loads, and what it defines does not change by accident."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import defs
from orchestration.defs.crm_tables.assets import CRM_TABLES


def test_the_definitions_load_with_every_crm_table_as_an_external_asset() -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {f"crm/{table}" for table in CRM_TABLES} <= keys
    assert not graph.get(dg.AssetKey(["crm", "contacts"])).is_materializable, "the serving layer writes them"


def test_the_warehouse_resource_reads_its_dsn_from_the_environment_at_launch(monkeypatch) -> None:  # noqa: ANN001
    warehouse = defs.resources["warehouse"]
    assert isinstance(warehouse.dsn, dg.EnvVar) or getattr(warehouse.dsn, "env_var", None) == "DATABASE_URL"
