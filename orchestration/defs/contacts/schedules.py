"""When the contacts assets run: a sensor on new or changed contacts (incremental clean and dedup, then enrich and
golden), and the daily full run of everything (in orchestration/defs/schedules.py), which retrains the model."""

import dagster as dg

from orchestration.defs.contacts.assets import CleanConfig, DedupConfig
from orchestration.defs.resources import WarehouseResource

contacts_job = dg.define_asset_job("contacts_job", selection=dg.AssetSelection.groups("contacts"),
                                   description="Clean, deduplicate, enrich and publish golden contacts.")


@dg.sensor(job=contacts_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def new_contacts_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    """Runs the contacts job when contacts were added or changed since its last request."""
    with warehouse.connect() as conn:
        count, latest = conn.execute("SELECT count(*), max(updated_at) FROM crm.contacts").fetchone()
    cursor = f"{count}:{latest.isoformat() if latest else ''}"
    if count == 0 or cursor == context.cursor:
        return dg.SensorResult(skip_reason="no new or changed contacts", cursor=context.cursor)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=cursor, run_config=INCREMENTAL)], cursor=cursor)


INCREMENTAL = dg.RunConfig(ops={"warehouse__contacts_clean": CleanConfig(incremental=True),
                                "warehouse__contact_clusters": DedupConfig(incremental=True)})
