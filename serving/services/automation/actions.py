"""The action n8n (or the dispatcher, with no n8n) calls: send one automated message to a contact, or say why not.

Guard rails, in order: the contact exists and has not opted out; the customer has not written since the event was
raised (a reply ends any sequence); not in quiet hours (business time zone; the answer says when to retry); under
the per-contact cap of automated messages a day; and at most once per (kind, step, subject). The 24-hour window is
the outbox's: outside it the message goes as the approved re-engagement template, or fails `window_closed`.
Quiet hours and the cap defer (the answer says when to retry); they never drop a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, Conversation, Message, OutboundMessage
from crm.settings import Settings
from serving.services.consent import may_market
from serving.services.automation.messages import compose
from serving.services.outbox import queue_message

KEY_PREFIX = "auto"  # outbox idempotency keys `auto:<kind>:<step>:<subject>`: never a direct answer


@dataclass(frozen=True)
class ActionResult:
    status: str  # queued | duplicate | skipped | deferred
    reason: str | None = None
    outbound_id: int | None = None
    retry_at: datetime | None = None


def in_quiet_hours(now: datetime, settings: Settings) -> datetime | None:
    """When quiet hours end if `now` is inside them (business time zone), else None."""
    zone = ZoneInfo(settings.business_timezone)
    local = now.astimezone(zone)
    start, end = time(settings.automation_quiet_start_hour), time(settings.automation_quiet_end_hour)
    inside = local.time() >= start or local.time() < end if start > end else start <= local.time() < end
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=0, second=0, microsecond=0)
    return ends if ends > local else ends + timedelta(days=1)


# Messages that sell rather than serve: they need the customer's marketing consent.
MARKETING_KINDS = {"nurturing", "closing_offer", "cart_recovery"}


async def send_automation_message(session: AsyncSession, settings: Settings, *, contact_id: int, kind: str,
                                  step: str, subject: str, raised_at: datetime, context: dict[str, Any],
                                  now: datetime, conversation_id: int | None = None) -> ActionResult:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    if contact.opted_out:
        return ActionResult("skipped", "opted_out")
    if kind in MARKETING_KINDS:  # offers need consent on record; follow-ups and payment reminders are service
        allowed, why = await may_market(session, contact, settings)
        if not allowed:
            return ActionResult("skipped", why or "no_consent")
    replied = (await session.scalars(select(Message.id).where(
        Message.contact_id == contact_id, Message.direction == "inbound",
        func.coalesce(Message.sent_at, Message.created_at) > raised_at).limit(1))).first()
    if replied is not None:
        return ActionResult("skipped", "customer_replied")
    if (quiet_until := in_quiet_hours(now, settings)) is not None:
        return ActionResult("deferred", "quiet_hours", retry_at=quiet_until)
    sent_today, oldest = (await session.execute(select(func.count(), func.min(OutboundMessage.created_at)).where(
        OutboundMessage.contact_id == contact_id, OutboundMessage.idempotency_key.like(f"{KEY_PREFIX}:%"),
        OutboundMessage.created_at > now - timedelta(days=1), OutboundMessage.created_at <= now))).one()
    if (sent_today or 0) >= settings.automation_daily_cap:  # waits for room under the cap, never dropped
        return ActionResult("deferred", "frequency_cap",
                            retry_at=(oldest or now) + timedelta(days=1, minutes=1))
    conversation = None
    if conversation_id is not None:  # the conversation the event is about, when it says
        conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.contact_id != contact_id:
        conversation = (await session.scalars(select(Conversation).where(Conversation.contact_id == contact_id)
                                              .order_by(Conversation.last_message_at.desc().nulls_last(),
                                                        Conversation.id.desc()).limit(1))).first()
    if conversation is None:
        return ActionResult("skipped", "no_conversation")
    text = compose(kind, step, contact.language, context, contact.first_name or contact.display_name)
    row = await queue_message(session, conversation=conversation, contact_id=contact_id,
                              key=f"{KEY_PREFIX}:{kind}:{step}:{subject}", text_body=text, created_at=now)
    if row is None:
        return ActionResult("duplicate", "already sent for this step")
    return ActionResult("queued", outbound_id=row.id)
