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
    assert sorted(job.name for job in defs.jobs or []) == ["automation_events_job", "contacts_job", "content_job",
                                                            "daily_refresh_job"]
    assert sorted(schedule.name for schedule in defs.schedules or []) == [
        "content_drafts_schedule", "daily_refresh_schedule", "follow_up_schedule", "payment_reminder_schedule"]
    assert sorted(sensor.name for sensor in defs.sensors or []) == [
        "ai_closer_sensor", "alerts_sensor", "cart_recovery_sensor", "due_posts_sensor", "new_contacts_sensor",
        "nurturing_sensor"]
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    warehouse = sorted(k for k in keys if k.startswith("warehouse/"))
    assert warehouse == ["warehouse/contact_clusters", "warehouse/contacts_clean", "warehouse/contacts_enriched",
                         "warehouse/contacts_golden", "warehouse/model_monitoring"]
    assert {"marts/fct_conversations", "marts/mart_autonomous_resolution", "marts/mart_response_times",
            "marts/dim_contacts", "staging/stg_crm__contacts"} <= keys
    assert sorted(k for k in keys if k.startswith("ml/")) == ["ml/lead_conversion_model", "ml/nlu_text_models"]
    assert "marts/lead_features" in keys
    assert "content_drafts" in keys and "marts/mart_content_performance" in keys
    refresh = next(job for job in defs.jobs or [] if job.name == "daily_refresh_job")
    assert "content_drafts" not in {k.to_user_string() for k in refresh.selection.resolve(defs.resolve_asset_graph())}
    checks = sorted(key.name for check in defs.asset_checks or [] for key in check.check_keys)
    assert checks == ["challenger_beats_champion", "contact_ids_are_unique", "contacts_have_valid_phones",
                      "emails_are_well_formed", "lead_model_inputs_are_stable", "nlu_challenger_beats_champion"]


def test_dbt_sources_are_the_serving_tables_and_the_clusters_asset() -> None:
    graph = defs.resolve_asset_graph()
    staging = graph.get(dg.AssetKey(["staging", "stg_crm__contacts"]))
    assert dg.AssetKey(["crm", "contacts"]) in staging.parent_keys
    golden = graph.get(dg.AssetKey(["staging", "stg_warehouse__contact_clusters"]))
    assert dg.AssetKey(["warehouse", "contact_clusters"]) in golden.parent_keys
    assert graph.get(dg.AssetKey(["marts", "fct_orders"])).check_keys, "dbt tests are asset checks"
    model = graph.get(dg.AssetKey(["ml", "lead_conversion_model"]))
    assert dg.AssetKey(["marts", "lead_features"]) in model.parent_keys, "the model trains on the features mart"
