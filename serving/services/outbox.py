"""Sending through the outbox: at most once per idempotency key, even across crashes and retries.

0. A reply overtaken by a reply to the customer's next message (a burst) is `superseded`, never sent.
1. queue_reply inserts the outbox row (unique key, e.g. `reply:<inbound message id>`) and its send job in the
   caller's transaction: a redelivered inbound message cannot queue a second reply.
2. send_outbound marks the row `sending` and commits before calling the Graph API, then records the result.
   A row found `sending` was interrupted mid-send: it is never sent again. It is confirmed `sent` when Meta's
   status webhook (WhatsApp, carrying our key as biz_opaque_callback_data) or echo (Messenger / Instagram,
   carrying it as metadata) shows it went out, and marked `unconfirmed` for a person otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models import ChannelAccount, Conversation, Message, MessageStatusEvent, OutboundMessage
from crm.security.secrets import decrypt_token
from crm.settings import Settings
from serving.services.channels.graph import GraphClient, GraphError, messenger_message, whatsapp_message
from serving.services.statuses import apply_recorded_status

log = structlog.get_logger(__name__)
OUTBOUND_QUEUE = "outbound"
# How long an interrupted send waits for a webhook proving it went out before a person is asked to check.
CONFIRMATION_WINDOW = timedelta(minutes=2)
SEND_TASK = "send_outbound"


class RetryLater(Exception):
    """A transient Graph failure: the job is retried with backoff (the row is back to `queued`)."""


async def queue_reply(session: AsyncSession, *, conversation: Conversation, contact_id: int | None,
                      in_reply_to: Message, text_body: str, quick_replies: list[str]) -> OutboundMessage | None:
    """The reply to one inbound message, queued exactly once (None if it was queued before)."""
    payload = (whatsapp_message(text_body, quick_replies) if conversation.channel == "whatsapp"
               else messenger_message(text_body, quick_replies))
    key = f"reply:{in_reply_to.id}"
    inserted = (await session.execute(
        insert(OutboundMessage).values(
            idempotency_key=key, conversation_id=conversation.id, contact_id=contact_id,
            in_reply_to_message_id=in_reply_to.id, channel=conversation.channel,
            account_external_id=conversation.account_external_id,
            recipient_external_id=in_reply_to.counterpart_external_id,
            kind=payload.get("type", "text") if conversation.channel == "whatsapp" else "text",
            text=text_body, payload=payload,
        ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(OutboundMessage.id)
    )).scalar_one_or_none()
    if inserted is None:
        return None
    # One send at a time per conversation keeps replies in order.
    await session.execute(
        text("INSERT INTO crm.procrastinate_jobs (queue_name, task_name, priority, lock, args) "
             "VALUES (:queue, :task, 0, :lock, jsonb_build_object('outbound_id', CAST(:id AS bigint)))"),
        {"queue": OUTBOUND_QUEUE, "task": SEND_TASK, "lock": f"conversation:{conversation.id}", "id": inserted},
    )
    return await session.get(OutboundMessage, inserted)


async def send_outbound(sessions: async_sessionmaker[AsyncSession], graph: GraphClient, settings: Settings,
                        outbound_id: int) -> str:
    """Send one outbox row; returns its final status. Raises RetryLater for transient failures."""
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id, with_for_update=True)
        if row is None or row.status in ("sent", "failed", "unconfirmed", "superseded"):
            return row.status if row else "missing"
        if row.status == "sending":
            status = await _confirm_interrupted(session, row)
            await session.commit()
            return status
        if await _superseded(session, row):
            row.status = "superseded"
            await session.commit()
            log.info("outbox.superseded", outbound_id=row.id)
            return "superseded"
        row.status, row.attempts = "sending", row.attempts + 1
        token = await _token(session, row, settings)
        await session.commit()
    try:
        if row.channel == "whatsapp":
            result = await graph.send_whatsapp(row.account_external_id, row.recipient_external_id, row.payload,
                                               token, callback_data=row.idempotency_key)
        else:
            result = await graph.send_messenger(row.account_external_id, row.recipient_external_id, row.payload,
                                                token, callback_data=row.idempotency_key)
    except GraphError as exc:
        return await _record_failure(sessions, outbound_id, exc)
    return await _record_sent(sessions, outbound_id, result.external_id)


async def _superseded(session: AsyncSession, row: OutboundMessage) -> bool:
    """A burst of customer messages gets one considered answer, not one per message: if a reply to a newer
    message of the same conversation is already queued, this one is dropped (sends are ordered per conversation,
    so the newer reply always runs after this check)."""
    if row.in_reply_to_message_id is None or row.conversation_id is None:
        return False
    newer = await session.execute(
        select(OutboundMessage.id).where(
            OutboundMessage.conversation_id == row.conversation_id,
            OutboundMessage.in_reply_to_message_id > row.in_reply_to_message_id,
            OutboundMessage.status.in_(("queued", "sending", "sent")),
        ).limit(1)
    )
    return newer.first() is not None


async def _token(session: AsyncSession, row: OutboundMessage, settings: Settings) -> str | None:
    account = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == row.channel, ChannelAccount.external_id == row.account_external_id))).first()
    if account is not None and account.access_token_encrypted:
        return decrypt_token(account.access_token_encrypted, settings.crm_secret_key)
    return settings.meta_access_token


async def _record_sent(sessions: async_sessionmaker[AsyncSession], outbound_id: int, external_id: str) -> str:
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id, with_for_update=True)
        assert row is not None
        now = datetime.now(UTC)
        row.status, row.external_id, row.sent_at, row.last_error = "sent", external_id, now, None
        message_id = (await session.execute(
            insert(Message).values(
                channel=row.channel, dedup_key=external_id, external_id=external_id, direction="outbound",
                message_type=row.kind, text=row.text, payload={"outbound_id": row.id},
                account_external_id=row.account_external_id, counterpart_external_id=row.recipient_external_id,
                sent_at=now, contact_id=row.contact_id, conversation_id=row.conversation_id, status="accepted",
                status_rank=1, processed_at=now,
            ).on_conflict_do_nothing(index_elements=["channel", "dedup_key"]).returning(Message.id)
        )).scalar_one_or_none()
        message = await session.get(Message, message_id) if message_id else (await session.scalars(
            select(Message).where(Message.channel == row.channel, Message.dedup_key == external_id))).first()
        if message is not None:  # an echo may have stored it first: link it either way
            row.message_id = message.id
            message.contact_id = message.contact_id or row.contact_id
            message.conversation_id = message.conversation_id or row.conversation_id
            await apply_recorded_status(session, message)
        if row.conversation_id:
            conversation = await session.get(Conversation, row.conversation_id)
            if conversation is not None:
                conversation.last_outbound_at = now
                conversation.last_message_at = max(filter(None, (conversation.last_message_at, now)))
        await session.commit()
    log.info("outbox.sent", outbound_id=outbound_id, external_id=external_id)
    return "sent"


async def _record_failure(sessions: async_sessionmaker[AsyncSession], outbound_id: int, exc: GraphError) -> str:
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id, with_for_update=True)
        assert row is not None
        row.last_error, row.error_code = str(exc)[:2000], str(exc.code) if exc.code is not None else None
        if exc.maybe_sent:
            await session.commit()  # stays `sending`: the next attempt confirms it, never resends
            log.warning("outbox.send_ambiguous", outbound_id=outbound_id, error=str(exc))
            raise RetryLater(str(exc))
        row.status = "queued" if exc.retryable else "failed"
        await session.commit()
    log.warning("outbox.send_failed", outbound_id=outbound_id, retryable=exc.retryable, code=exc.code)
    if exc.retryable:
        raise RetryLater(str(exc))
    return "failed"


async def _confirm_interrupted(session: AsyncSession, row: OutboundMessage) -> str:
    """Find proof that an interrupted send went out; never send it again."""
    proof = (await session.scalars(select(MessageStatusEvent).where(
        MessageStatusEvent.channel == row.channel,
        MessageStatusEvent.details["biz_opaque_callback_data"].astext == row.idempotency_key,
    ).limit(1))).first()
    external_id = proof.external_message_id if proof else None
    if external_id is None:
        echo = (await session.scalars(select(Message).where(
            Message.channel == row.channel, Message.is_echo.is_(True),
            or_(Message.payload["metadata"].astext == row.idempotency_key),
        ).limit(1))).first()
        external_id = echo.external_id if echo else None
    if external_id is None and datetime.now(UTC) - row.created_at < CONFIRMATION_WINDOW:
        raise RetryLater("interrupted send: waiting for Meta's webhook to confirm it")
    if external_id is None:
        row.status = "unconfirmed"
        row.last_error = "interrupted during the send and no webhook confirms it went out; check before resending"
        log.error("outbox.unconfirmed", outbound_id=row.id)
        return "unconfirmed"
    row.status, row.external_id, row.sent_at = "sent", external_id, row.sent_at or datetime.now(UTC)
    log.info("outbox.confirmed_after_interruption", outbound_id=row.id, external_id=external_id)
    return "sent"
