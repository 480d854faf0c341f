"""Flow 22: the conditions that should reach a person, each checked at `now` and raised as an `alert.raised` event
(n8n's workflow 22 posts it to Slack and email). An alert's key holds its time bucket, so a condition that lasts
raises once per bucket, not once per tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from orchestration.defs.automation.due import DueEvent


@dataclass(frozen=True)
class AlertThresholds:
    hot_lead_minutes: int = 15  # a hot lead with no answer of ours this long
    negative_per_hour: int = 5  # and at least 3x the last week's hourly average
    first_response_seconds: int = 60
    sla_breaches_per_hour: int = 3
    backlog_tickets: int = 5  # open tickets waiting over 30 minutes
    dead_letters_per_hour: int = 1
    webhook_error_share: float = 0.05  # of at least 20 webhooks in 15 minutes


def _hour(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H")


def _alert(name: str, bucket: str, detail: str, **data: object) -> DueEvent:
    return DueEvent("alert.raised", "alert", name, f"alert.raised:{name}:{bucket}",
                    {"alert": name, "detail": detail, **data})


def check_alerts(conn: psycopg.Connection, now: datetime, limits: AlertThresholds = AlertThresholds()
                 ) -> list[DueEvent]:
    p = {"now": now}
    alerts: list[DueEvent] = []
    for contact_id, hot_at in conn.execute(
            "SELECT e.subject_id::bigint, e.created_at FROM crm.automation_events e WHERE e.event_type = 'lead.hot' "
            "AND e.created_at <= %(now)s - make_interval(mins => %(m)s) AND e.created_at > %(now)s - interval '1 day' "
            "AND NOT EXISTS (SELECT 1 FROM crm.outbound_messages o WHERE o.contact_id = e.subject_id::bigint "
            "AND o.created_at >= e.created_at)", {**p, "m": limits.hot_lead_minutes}).fetchall():
        alerts.append(_alert("hot_lead_unattended", f"{contact_id}:{hot_at.date()}",
                             f"hot lead {contact_id} has waited over {limits.hot_lead_minutes} min for an answer",
                             contact_id=contact_id))
    last_hour, weekly = conn.execute(
        "SELECT count(*) FILTER (WHERE created_at > %(now)s - interval '1 hour'), "
        "count(*) FILTER (WHERE created_at > %(now)s - interval '7 days') / 168.0 FROM crm.sentiment_analyses "
        "WHERE sentiment = 'negative' AND created_at <= %(now)s", p).fetchone()
    if last_hour >= max(limits.negative_per_hour, 3 * float(weekly)):
        alerts.append(_alert("negative_sentiment_spike", _hour(now),
                             f"{last_hour} negative messages in the last hour (weekly hourly mean "
                             f"{float(weekly):.1f})", count=last_hour))
    breaches = conn.execute(
        "SELECT count(*) FROM crm.messages m WHERE m.direction = 'inbound' AND m.conversation_id IS NOT NULL "
        "AND m.created_at > %(now)s - interval '1 hour' AND m.created_at <= %(now)s - make_interval(secs => %(s)s) "
        "AND NOT EXISTS (SELECT 1 FROM crm.outbound_messages o WHERE o.conversation_id = m.conversation_id "
        "AND o.created_at >= m.created_at AND o.created_at <= m.created_at + make_interval(secs => %(s)s))",
        {**p, "s": limits.first_response_seconds}).fetchone()[0]
    if breaches >= limits.sla_breaches_per_hour:
        alerts.append(_alert("first_response_sla", _hour(now), f"{breaches} messages in the last hour waited over "
                             f"{limits.first_response_seconds} s for an answer", count=breaches))
    backlog = conn.execute("SELECT count(*) FROM crm.tickets WHERE status = 'open' AND created_at <= %(now)s - "
                           "interval '30 minutes'", p).fetchone()[0]
    if backlog >= limits.backlog_tickets:
        alerts.append(_alert("escalation_backlog", _hour(now), f"{backlog} escalations waiting over 30 min for an "
                             "agent", count=backlog))
    dead = conn.execute(
        "SELECT (SELECT count(*) FROM crm.raw_webhook_events WHERE processing_status = 'dead_letter' AND received_at "
        "> %(now)s - interval '1 hour') + (SELECT count(*) FROM crm.automation_events WHERE status = 'dead_letter' "
        "AND created_at > %(now)s - interval '1 day' AND created_at <= %(now)s)", p).fetchone()[0]
    if dead >= limits.dead_letters_per_hour:
        alerts.append(_alert("dead_letters", _hour(now), f"{dead} events in dead letter (webhooks in the last hour, "
                             "automation in the last day)", count=dead))
    total, failed = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE processing_status = 'dead_letter') FROM crm.raw_webhook_events "
        "WHERE received_at > %(now)s - interval '15 minutes' AND received_at <= %(now)s", p).fetchone()
    if total >= 20 and failed / total > limits.webhook_error_share:
        alerts.append(_alert("webhook_error_rate", now.strftime("%Y-%m-%dT%H:") + f"{now.minute // 15}",
                             f"{failed} of {total} webhooks failed in 15 minutes", count=failed, total=total))
    if conn.execute("SELECT to_regclass('warehouse.model_monitoring') IS NOT NULL").fetchone()[0]:
        for model, version, computed_at, features in conn.execute(
                "SELECT model, version, computed_at, string_agg(feature, ', ') FROM warehouse.model_monitoring m "
                "WHERE status = 'alert' AND computed_at > %(now)s - interval '1 day' AND computed_at = "
                "(SELECT max(computed_at) FROM warehouse.model_monitoring l WHERE l.model = m.model) "
                "GROUP BY model, version, computed_at", p).fetchall():  # the latest measurement only
            alerts.append(_alert("model_drift", f"{model}:{computed_at.isoformat()}",
                                 f"{model} v{version}: inputs shifted (PSI > 0.25): {features}", model=model))
    return alerts


def failed_check_alerts(failures: list[tuple[str, str, str]]) -> list[DueEvent]:
    """(asset, check, run id) of data-quality checks that failed, from the Dagster instance's event log."""
    return [_alert("data_quality_check_failed", f"{asset}:{check}:{run_id}",
                   f"check {check} on {asset} failed (run {run_id})", asset=asset, check=check)
            for asset, check, run_id in failures]
