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


def test_the_code_location_snapshot() -> None:
    """Jobs, schedules, sensors and warehouse assets: a change here should be deliberate."""
    assert sorted(job.name for job in defs.jobs or []) == ["contacts_job", "daily_refresh_job"]
    assert [schedule.name for schedule in defs.schedules or []] == ["daily_refresh_schedule"]
    assert [sensor.name for sensor in defs.sensors or []] == ["new_contacts_sensor"]
    warehouse = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()
                       if k.path[0] == "warehouse")
    assert warehouse == ["warehouse/contact_clusters", "warehouse/contacts_clean", "warehouse/contacts_enriched",
                         "warehouse/contacts_golden"]
    checks = sorted(key.name for check in defs.asset_checks or [] for key in check.check_keys)
    assert checks == ["contact_ids_are_unique", "contacts_have_valid_phones", "emails_are_well_formed"]
