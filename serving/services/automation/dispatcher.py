"""Delivering automation events: each pending event goes to the n8n workflow of its flow (a signed POST), or, with
no n8n configured, straight to the local action, so the default install works alone. Failures retry with
exponential backoff; after AUTOMATION_MAX_ATTEMPTS the event is `dead_letter` with its last error.

Rows are claimed with FOR UPDATE SKIP LOCKED, so several workers never deliver the same event; a local action
commits in the same transaction as the event's `delivered`, so it happens exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import AutomationEvent
from crm.settings import Settings
from serving.services.automation.actions import send_automation_message
from serving.services.automation.events import EVENT_TYPES
from serving.services.content_publisher import defer_publish

log = structlog.get_logger(__name__)
# Events the serving layer can act on by itself (the rest only matter to an n8n workflow that subscribes).
LOCAL_ACTIONS = {"follow_up.due": "follow_up", "nurturing.due": "nurturing", "closer.due": "closing_offer",
                 "cart.abandoned": "cart_recovery", "payment.reminder_due": "payment_reminder"}
SIGNATURE_HEADER = "X-CRM-Signature"
SERVING_ONLY = {event_type for event_type, flow in EVENT_TYPES.items() if flow is None}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 1 h."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def webhook_url(base: str, event_type: str) -> str:
    return f"{base.rstrip('/')}/webhook/crm-{EVENT_TYPES[event_type]}"


def envelope(event: AutomationEvent) -> dict:
    return {"event_id": event.id, "type": event.event_type, "subject_type": event.subject_type,
            "subject_id": event.subject_id, "raised_at": event.created_at.isoformat(), "payload": event.payload}


@dataclass
class DispatchReport:
    delivered: int = 0
    deferred: int = 0
    failed: int = 0
    dead: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


async def dispatch_due(session: AsyncSession, settings: Settings, now: datetime,
                       http: httpx.AsyncClient | None = None, limit: int = 200) -> DispatchReport:
    """Delivers up to `limit` due events in the caller's transaction (commit it)."""
    report = DispatchReport()
    if not settings.n8n_base_url:  # direct mode: events nothing local acts on are settled in one statement
        settled = await session.execute(
            update(AutomationEvent).where(AutomationEvent.status == "pending",
                                          AutomationEvent.event_type.not_in([*LOCAL_ACTIONS, *SERVING_ONLY,
                                                                             "alert.raised"]))
            .values(status="delivered", target="none", delivered_at=now))
        report.delivered += settled.rowcount or 0
    events = (await session.scalars(
        select(AutomationEvent).where(AutomationEvent.status == "pending", or_(
            AutomationEvent.next_attempt_at.is_(None), AutomationEvent.next_attempt_at <= now))
        .order_by(AutomationEvent.id).limit(limit).with_for_update(skip_locked=True))).all()
    for event in events:
        try:
            async with session.begin_nested():  # a failing action leaves no half-written row behind
                outcome = await _deliver(session, settings, event, now, http)
        except Exception as exc:  # noqa: BLE001 - every failure is retried, then dead-lettered
            await session.refresh(event)  # the savepoint's rollback expired it
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if event.attempts >= settings.automation_max_attempts:
                event.status = "dead_letter"
                report.dead += 1
                log.error("automation.dead_letter", event_id=event.id, type=event.event_type, error=event.last_error)
            else:
                event.next_attempt_at = now + backoff(event.attempts)
                report.failed += 1
            continue
        if outcome is not None:  # deferred (quiet hours): try again then, no attempt spent
            event.next_attempt_at = outcome
            report.deferred += 1
            continue
        event.status, event.delivered_at = "delivered", now
        report.delivered += 1
        report.by_type[event.event_type] = report.by_type.get(event.event_type, 0) + 1
    return report


def _ok(response: httpx.Response) -> bool:
    try:
        return response.json().get("ok") is True
    except (ValueError, AttributeError):
        return False


async def _deliver(session: AsyncSession, settings: Settings, event: AutomationEvent, now: datetime,
                   http: httpx.AsyncClient | None) -> datetime | None:
    """Sends the event; returns when to retry if it must wait, None once done; raises on failure."""
    if event.event_type == "content.post_due":  # flow 15: a publish job, in this transaction
        await defer_publish(session, int(event.payload["post_id"]))
        event.target = "local"
        return None
    if settings.n8n_base_url:
        body = json.dumps(envelope(event), ensure_ascii=False, default=str).encode()
        headers = {"Content-Type": "application/json", "X-CRM-Event": event.event_type,
                   "Idempotency-Key": event.idempotency_key}
        if not settings.automation_webhook_secret:  # the workflows refuse unsigned events: say so, don't send
            raise RuntimeError("AUTOMATION_WEBHOOK_SECRET is not set: n8n would refuse every event (401)")
        headers[SIGNATURE_HEADER] = sign(settings.automation_webhook_secret, body)
        client = http or httpx.AsyncClient(timeout=10)
        try:
            response = await client.post(webhook_url(settings.n8n_base_url, event.event_type), content=body,
                                         headers=headers)
        finally:
            if http is None:
                await client.aclose()
        # Delivered only on the workflow's own `{"ok": true}`: while n8n starts up it answers 200 to anything
        # ("n8n is starting up"), and an unregistered webhook answers 404.
        if response.status_code >= 300 or not _ok(response):
            raise RuntimeError(f"n8n answered {response.status_code}: {response.text[:200]}")
        event.target = "n8n"
        # The message workflows pass the action's answer back: a deferral (quiet hours, cap) is retried then.
        result = response.json().get("result") or {}
        if isinstance(result, dict) and result.get("status") == "deferred" and result.get("retry_at"):
            return datetime.fromisoformat(str(result["retry_at"]).replace("Z", "+00:00"))
        return None
    kind = LOCAL_ACTIONS.get(event.event_type)
    if kind is None:
        if event.event_type == "alert.raised":  # without n8n's Slack and email, the log is where alerts go
            log.warning("automation.alert", alert=event.payload.get("alert"), detail=event.payload.get("detail"))
        return None  # nothing else local subscribes: delivered to nobody, on record
    payload = event.payload
    result = await send_automation_message(
        session, settings, contact_id=int(payload["contact_id"]), kind=kind, step=str(payload["step"]),
        subject=str(payload.get("subject", event.subject_id)), raised_at=event.created_at,
        context=payload.get("context", {}), now=now, conversation_id=payload.get("conversation_id"))
    event.payload = {**payload, "result": {"status": result.status, "reason": result.reason,
                                           "outbound_id": result.outbound_id}}
    event.target = "local"
    return result.retry_at if result.status == "deferred" else None
