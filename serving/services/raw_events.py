"""Operations on stored webhook events: listing, inspecting and requeueing dead letters."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import (
    Contact,
    IntentDetection,
    OutboundMessage,
    SentimentAnalysis,
    Conversation,
    LeadAdSubmission,
    Message,
    MessageStatusEvent,
    PageFeedEvent,
    RawWebhookEvent,
    SocialComment,
)
from serving.services.ingest.store import INBOUND_QUEUE, PROCESS_TASK


class RawEventNotFound(LookupError):
    pass


async def list_raw_events(session: AsyncSession, status: str | None, limit: int) -> list[RawWebhookEvent]:
    query = select(RawWebhookEvent).order_by(RawWebhookEvent.id.desc()).limit(limit)
    if status:
        query = query.where(RawWebhookEvent.processing_status == status)
    return list((await session.scalars(query)).all())


async def get_raw_event(session: AsyncSession, event_id: int) -> RawWebhookEvent:
    event = await session.get(RawWebhookEvent, event_id)
    if event is None:
        raise RawEventNotFound(f"raw event {event_id} does not exist")
    return event


def decoded_body(event: RawWebhookEvent) -> Any:
    if event.body is None:
        return None
    try:
        return orjson.loads(event.body)
    except orjson.JSONDecodeError:
        return event.body.decode("utf-8", "replace")


NORMALIZED_MODELS = (Message, MessageStatusEvent, SocialComment, PageFeedEvent, LeadAdSubmission)


async def has_normalized_rows(session: AsyncSession, event_id: int) -> bool:
    for model in NORMALIZED_MODELS:
        found = await session.execute(select(model.id).where(model.raw_event_id == event_id).limit(1))
        if found.first() is not None:
            return True
    return False


async def requeue_raw_event(session: AsyncSession, event_id: int) -> int:
    """Queue a fresh processing job for an event (a dead letter after its cause was fixed). Returns the job id.

    A dead letter kept at ingest has no normalized rows yet: its job parses the stored body again first."""
    event = await get_raw_event(session, event_id)
    renormalize = event.body is not None and not await has_normalized_rows(session, event_id)
    event.processing_status = "queued"
    event.attempts = 0
    job_id = (
        await session.execute(
            text(
                "INSERT INTO crm.procrastinate_jobs (queue_name, task_name, priority, args) "
                "VALUES (:queue, :task, 0, jsonb_build_object('raw_event_id', CAST(:event_id AS bigint), "
                "'renormalize', CAST(:renormalize AS boolean))) RETURNING id"
            ),
            {"queue": INBOUND_QUEUE, "task": PROCESS_TASK, "event_id": event_id, "renormalize": renormalize},
        )
    ).scalar_one()
    await session.commit()
    return job_id


async def ingest_stats(session: AsyncSession) -> dict[str, Any]:
    async def grouped(column: Any) -> dict[str, int]:
        rows = await session.execute(select(column, func.count()).group_by(column))
        return {str(key): count for key, count in rows.all()}

    async def count(model: Any) -> int:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()

    return {
        "raw_events_by_status": await grouped(RawWebhookEvent.processing_status),
        "messages_by_channel": await grouped(Message.channel),
        "statuses": await count(MessageStatusEvent),
        "comments": await count(SocialComment),
        "feed_events": await count(PageFeedEvent),
        "lead_ads": await count(LeadAdSubmission),
        "contacts": await count(Contact),
        "conversations_by_status": await grouped(Conversation.status),
        "intents": await grouped(IntentDetection.primary_intent),
        "contacts_by_lead_category": await grouped(Contact.lead_category),
        "conversations_by_route": await grouped(Conversation.route),
        "average_sentiment": (await session.execute(select(func.avg(SentimentAnalysis.score)))).scalar_one(),
        "outbound_by_status": await grouped(OutboundMessage.status),
    }
