"""The daily full run: every asset the project materializes, at 03:00 in the business's time zone, except the
content generator (its own weekly schedule: a daily run would bring back drafts someone deleted)."""

import dagster as dg

daily_refresh_job = dg.define_asset_job("daily_refresh_job", selection=dg.AssetSelection.all() - dg.AssetSelection.groups("content"),
                                        description="Everything: contacts, enrichment and the dbt marts.")

daily_refresh_schedule = dg.ScheduleDefinition(
    name="daily_refresh_schedule", job=daily_refresh_job, cron_schedule="0 3 * * *",
    execution_timezone="America/Panama", default_status=dg.DefaultScheduleStatus.RUNNING)
