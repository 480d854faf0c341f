"""Flow 16: the content calendar's clock. Every minute, approved posts whose time has come become
`content.post_due` events; the worker's dispatcher turns each into a publish job (flow 15, in the serving layer).
The event's key names the post and the approval and schedule it was due under, so ticking twice raises nothing
new, while a post rescheduled or approved again after a failure is due afresh. (No `from __future__ import
annotations`: Dagster inspects the signatures.)"""

from datetime import UTC, datetime

import dagster as dg
import psycopg

from orchestration.defs.automation.due import DueEvent, raise_events
from orchestration.defs.resources import WarehouseResource

DUE_POSTS_SQL = """
SELECT id, scheduled_at, approved_at, channels
FROM crm.content_posts
WHERE status = 'approved' AND coalesce(scheduled_at, approved_at, created_at) <= %(now)s
ORDER BY coalesce(scheduled_at, approved_at, created_at), id
"""


def due_posts(conn: psycopg.Connection, now: datetime) -> list[DueEvent]:
    events = []
    for post_id, scheduled_at, approved_at, channels in conn.execute(DUE_POSTS_SQL, {"now": now}).fetchall():
        when = (scheduled_at or approved_at or now).isoformat()
        approval = approved_at.isoformat() if approved_at else "-"
        events.append(DueEvent("content.post_due", "content_post", str(post_id),
                               f"content.post_due:{post_id}:{when}:{approval}",
                               {"post_id": post_id, "scheduled_at": when, "channels": channels}))
    return events


def raise_due_posts(warehouse: WarehouseResource, now: datetime) -> int:
    with warehouse.connect() as conn:
        return raise_events(conn, due_posts(conn, now), now)


@dg.sensor(job_name="automation_events_job", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def due_posts_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    """Approved posts whose scheduled time has come (or approved with no time: now) go to the publisher."""
    raised = raise_due_posts(warehouse, datetime.now(UTC))
    context.log.info(f"posts due: {raised} new")
    return dg.SkipReason(f"{raised} posts due")
