"""Delivery status of a message, from its recorded history.

Statuses are applied at ingest to messages already stored; one that arrives before, with, or concurrently with
its message (an echo and its read receipt in one batch, an unsend overtaking the message, a `sent` before the
outbox records the wamid) is only in the history. Whoever stores or processes the message calls this to catch up.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Message, MessageStatusEvent


async def apply_recorded_status(session: AsyncSession, message: Message) -> bool:
    """Move the message's status forward to the best one recorded for it; True when it changed."""
    if not message.external_id:
        return False
    best = (
        await session.scalars(
            select(MessageStatusEvent)
            .where(MessageStatusEvent.channel == message.channel,
                   MessageStatusEvent.external_message_id == message.external_id)
            .order_by(MessageStatusEvent.status_rank.desc(), MessageStatusEvent.occurred_at.desc().nulls_last())
            .limit(1)
        )
    ).first()
    if best is None or best.status_rank <= (message.status_rank or 0):
        return False
    message.status = best.status
    message.status_rank = best.status_rank
    message.status_at = best.occurred_at or best.created_at
    if best.errors:
        message.status_error = best.errors
    if best.status == "deleted" and message.deleted_at is None:
        message.deleted_at = best.occurred_at or best.created_at
    return True
