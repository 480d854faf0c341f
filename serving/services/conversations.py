"""Conversation threads: reuse the live one for a contact on a channel account, or open a new one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Conversation


async def open_or_reuse(session: AsyncSession, contact_id: int, channel: str,
                        account_external_id: str) -> Conversation:
    query = (
        select(Conversation)
        .where(
            Conversation.contact_id == contact_id,
            Conversation.channel == channel,
            Conversation.account_external_id == account_external_id,
            Conversation.status != "closed",
        )
        .with_for_update()
    )
    conversation = (await session.scalars(query)).first()
    if conversation is not None:
        return conversation
    await session.execute(
        insert(Conversation)
        .values(contact_id=contact_id, channel=channel, account_external_id=account_external_id, status="open")
        .on_conflict_do_nothing(
            index_elements=["contact_id", "channel", "account_external_id"],
            index_where=text("status <> 'closed'"),
        )
    )
    conversation = (await session.scalars(query)).first()
    assert conversation is not None
    return conversation


def touch(conversation: Conversation, at: datetime | None, direction: str) -> None:
    """Keep the thread's activity times at their latest values, whatever order messages are processed in."""
    if at is None:
        return
    conversation.last_message_at = _latest(conversation.last_message_at, at)
    if direction == "inbound":
        conversation.last_inbound_at = _latest(conversation.last_inbound_at, at)
    else:
        conversation.last_outbound_at = _latest(conversation.last_outbound_at, at)


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current
