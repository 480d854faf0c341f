"""Raising automation events: one row in crm.automation_events per (event, subject, step), written in the caller's
transaction, so an event exists exactly when what it reports was committed, and raising it twice is harmless."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import AutomationEvent

# What each event is for; the dispatcher sends each type to the n8n workflow of the same number (n8n/workflows/);
# None: handled by the serving layer itself even when n8n is configured.
EVENT_TYPES: dict[str, str | None] = {
    "message.received": "01",
    "lead.hot": "01",
    "conversation.escalated": "07",
    "conversation.closed": "01",
    "order.created": "01",
    "follow_up.due": "08",
    "nurturing.due": "10",
    "closer.due": "11",
    "cart.abandoned": "12",
    "payment.reminder_due": "13",
    "alert.raised": "22",
    "post.published": "01",
    "comment.answered": "01",
    "content.post_due": None,  # the serving layer's own: it publishes the post, with or without n8n
}


async def raise_event(session: AsyncSession, event_type: str, subject_type: str, subject_id: object,
                      payload: dict[str, Any], key: str | None = None) -> bool:
    """Adds the event unless one with the same idempotency key exists (default: type + subject). True if new."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown automation event type {event_type!r}")
    statement = insert(AutomationEvent).values(
        event_type=event_type, subject_type=subject_type, subject_id=str(subject_id), payload=payload,
        idempotency_key=key or f"{event_type}:{subject_type}:{subject_id}", target="n8n",
    ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(AutomationEvent.id)
    return (await session.execute(statement)).scalar() is not None
