"""When automation acts (flows 8, 10-13, 22): the schedules and sensors raise the events that are due; the worker's dispatcher
delivers them to n8n or the local actions. Ticking twice raises nothing new (each event's key is its subject and
step). (No `from __future__ import annotations`: Dagster inspects the signatures.)"""

from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.automation.due import (
    due_carts,
    due_closers,
    due_follow_ups,
    due_nurturing,
    due_payments,
    raise_events,
)
from orchestration.defs.resources import WarehouseResource


def tick(warehouse: WarehouseResource, flows: tuple[str, ...], now: datetime, timezone: str,
         closer_wait_hours: int = 6, closer_max_discount: int = 10) -> dict[str, int]:
    """Raises what is due for `flows` (follow_up, nurturing, closer, cart, payment); returns new events per flow."""
    finders = {"follow_up": lambda conn: due_follow_ups(conn, now), "cart": lambda conn: due_carts(conn, now),
               "payment": lambda conn: due_payments(conn, now, timezone),
               "nurturing": lambda conn: due_nurturing(conn, now),
               "closer": lambda conn: due_closers(conn, now, closer_wait_hours, closer_max_discount)}
    raised = {}
    with warehouse.connect() as conn:
        for flow in flows:
            raised[flow] = raise_events(conn, finders[flow](conn), now)
    return raised


def _evaluate(context: dg.ScheduleEvaluationContext | dg.SensorEvaluationContext, warehouse: WarehouseResource,
              flows: tuple[str, ...]) -> dg.SkipReason:
    from crm.settings import get_settings

    settings = get_settings()
    raised = tick(warehouse, flows, datetime.now(UTC), settings.business_timezone,
                  closer_wait_hours=settings.automation_closer_wait_hours,
                  closer_max_discount=settings.automation_closer_max_discount)
    context.log.info(f"automation events raised: {raised}")
    # The events are the output (the dispatcher acts on them): no Dagster run to launch.
    return dg.SkipReason(f"raised {raised}")


automation_events_job = dg.define_asset_job("automation_events_job", selection=dg.AssetSelection.groups("crm"),
                                            description="Placeholder target: the automation schedules raise events "
                                                        "and launch no run.")


@dg.schedule(job=automation_events_job, cron_schedule="0 * * * *", execution_timezone="America/Panama",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def follow_up_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    """Flow 8, hourly: 24 h of silence → value-add, 96 h → soft urgency, 168 h → last chance with an opt-out offer,
    14 days → passive nurturing; a reply ends the sequence."""
    return _evaluate(context, warehouse, ("follow_up",))


@dg.sensor(job=automation_events_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def cart_recovery_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    """Flow 12: carts idle for 1 h, then 24 h."""
    return _evaluate(context, warehouse, ("cart",))


@dg.schedule(job=automation_events_job, cron_schedule="0 9 * * *", execution_timezone="America/Panama",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def payment_reminder_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    """Flow 13, daily at 09:00: invoices due in 3 days, due today, 1 and 7 days overdue."""
    return _evaluate(context, warehouse, ("payment",))


@dg.sensor(job=automation_events_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING)
def nurturing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    """Flow 10: passive leads (cold or warm, silent 7-60 days, no order) get one piece of content a week, matched
    to what they asked about."""
    return _evaluate(context, warehouse, ("nurturing",))


@dg.sensor(job=automation_events_job, minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING)
def ai_closer_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    """Flow 11: hot leads with purchase intent and no order after AUTOMATION_CLOSER_WAIT_HOURS get a closing offer of
    AUTOMATION_CLOSER_MAX_DISCOUNT percent at most."""
    return _evaluate(context, warehouse, ("closer",))


@dg.sensor(job=automation_events_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def alerts_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    """Flow 22: hot lead unattended, negative-sentiment spike, first-response SLA breaches, escalation backlog,
    dead letters, webhook error rate, model drift, and data-quality checks that failed since the last tick."""
    from orchestration.defs.automation.alerts import check_alerts, failed_check_alerts

    failures, cursor = _failed_checks(context.instance, int(context.cursor or 0))
    now = datetime.now(UTC)
    with warehouse.connect() as conn:
        raised = raise_events(conn, check_alerts(conn, now) + failed_check_alerts(failures), now)
    return dg.SensorResult(skip_reason=f"raised {raised} alert(s)", cursor=str(cursor))


def _failed_checks(instance: dg.DagsterInstance, after: int) -> tuple[list[tuple[str, str, str]], int]:
    """Asset-check evaluations that failed after event-log id `after`, and the new cursor."""
    from dagster import DagsterEventType, EventRecordsFilter

    try:
        records = instance.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after), limit=500,
            ascending=True)
    except dg.DagsterInvariantViolationError:  # run-sharded storage (SQLite dev instances) can't page by id
        return [], after
    failures = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed:
            failures.append((evaluation.asset_key.to_user_string(), evaluation.check_name, record.run_id))
    return failures, max([after, *(r.storage_id for r in records)])
