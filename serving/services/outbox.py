"""Sending through the outbox: at most once per idempotency key, even across crashes and retries.

0. A reply overtaken by a reply to the customer's next message (a burst) is `superseded`, never sent.
1. queue_reply inserts the outbox row (unique key, e.g. `reply:<inbound message id>`) and its send job in the
   caller's transaction: a redelivered inbound message cannot queue a second reply.
2. send_outbound marks the row `sending` and commits before calling the Graph API, then records the result.
   A row found `sending` was interrupted mid-send: it is never sent again. It is confirmed `sent` when Meta's
   status webhook (WhatsApp, carrying our key as biz_opaque_callback_data) or echo (Messenger / Instagram,
   carrying it as metadata) shows it went out, and marked `unconfirmed` for a person otherwise.
3. Outside the 24-hour window a WhatsApp message becomes an approved re-engagement template (or fails with
   `window_closed` when there is none); Messenger / Instagram send a person's answer tagged HUMAN_AGENT within
   7 days. Meta's own 131047 ("re-engagement message") is handled the same way, once.
4. Sends wait for the per-number and per-recipient rate (channels/throttle.py); 429 / 130429 / 5xx retry with
   exponential backoff; permanent errors stay on the row with their code.

The key's prefix says who wrote the message: `reply:` the bot, `agent:` a person, `handoff:`, `csat:`, `closing:`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.db.models import ChannelAccount, Contact, Conversation, Message, MessageStatusEvent, OutboundMessage
from crm.security.secrets import decrypt_token
from crm.settings import Settings, get_settings
from serving.services.channels.graph import (
    GraphClient,
    GraphError,
    QuickReply,
    messenger_message,
    whatsapp_message,
    whatsapp_template_message,
)
from serving.services.channels.throttle import SendThrottle
from serving.services.statuses import apply_recorded_status
from serving.services.templates import pick_reengagement_template, render_template_text
from serving.services.window import human_agent_tag_allowed, window_open

log = structlog.get_logger(__name__)
OUTBOUND_QUEUE = "outbound"
# How long an interrupted send waits for a webhook proving it went out before a person is asked to check.
CONFIRMATION_WINDOW = timedelta(minutes=2)
# A customer message this soon after their previous one is part of a burst; its reply waits REPLY_DEBOUNCE_MS.
BURST_GAP = timedelta(seconds=8)
SEND_TASK = "send_outbound"
# session.info key: when the caller (the worker) lists ids here, undelayed rows are sent by it after commit.
INLINE_SENDS = "inline_outbound_ids"
ORPHAN_AFTER = timedelta(seconds=60)


# Answers to what the customer wrote (the bot's reply, a person's message, the handoff notice): allowed even for a
# contact who opted out; anything else (surveys, re-engagement, follow-ups) is not.
DIRECT_ANSWER_PREFIXES = ("reply:", "agent:", "handoff:")


class RetryLater(Exception):
    """A transient Graph failure: the job is retried with backoff (the row is back to `queued`)."""


async def queue_reply(session: AsyncSession, *, conversation: Conversation, contact_id: int | None,
                      in_reply_to: Message, text_body: str, quick_replies: list[QuickReply]) -> OutboundMessage | None:
    """The bot's reply to one inbound message, queued exactly once (None if it was queued before). While the
    customer is writing a burst (their previous message came moments before), the send waits a little: a newer
    message's reply then supersedes this one, so the burst gets one considered answer."""
    debounce_s = get_settings().reply_debounce_ms / 1000
    delay = debounce_s if debounce_s > 0 and await _burst_in_progress(session, in_reply_to) else 0.0
    return await queue_message(session, conversation=conversation, contact_id=contact_id,
                               key=f"reply:{in_reply_to.id}", text_body=text_body, quick_replies=quick_replies,
                               in_reply_to=in_reply_to, recipient=in_reply_to.counterpart_external_id,
                               delay_s=delay)


async def _burst_in_progress(session: AsyncSession, message: Message) -> bool:
    """The customer wrote moments before this message, or already wrote again (a backlog): either way a newer
    reply is likely, so this one waits the debounce and may be superseded. One query."""
    customer = (Message.channel == message.channel,
                Message.counterpart_external_id == message.counterpart_external_id,
                Message.direction == "inbound", Message.id != message.id)
    recent = [Message.id > message.id]
    if message.sent_at is not None:
        recent.append(Message.sent_at.between(message.sent_at - BURST_GAP, message.sent_at))
    found = await session.execute(select(Message.id).where(*customer, or_(*recent)).limit(1))
    return found.first() is not None


async def queue_message(session: AsyncSession, *, conversation: Conversation, contact_id: int | None, key: str,
                        text_body: str, quick_replies: list[QuickReply] | None = None,
                        in_reply_to: Message | None = None, recipient: str | None = None,
                        payload: dict | None = None, kind: str | None = None,
                        delay_s: float = 0.0, created_at: datetime | None = None) -> OutboundMessage | None:
    """Queue one message and its send job in the caller's transaction; a key queued before returns None."""
    if payload is None:
        payload = (whatsapp_message(text_body, quick_replies or []) if conversation.channel == "whatsapp"
                   else messenger_message(text_body, quick_replies or []))
    if kind is None:
        kind = payload.get("type", "text") if conversation.channel == "whatsapp" else "text"
    recipient = recipient or await conversation_recipient(session, conversation)
    if recipient is None:
        raise ValueError(f"conversation {conversation.id} has no customer address to send to")
    inserted = (await session.execute(
        insert(OutboundMessage).values(
            idempotency_key=key, conversation_id=conversation.id, contact_id=contact_id,
            in_reply_to_message_id=in_reply_to.id if in_reply_to is not None else None,
            channel=conversation.channel, account_external_id=conversation.account_external_id,
            recipient_external_id=recipient, kind=kind, text=text_body, payload=payload,
            **({"created_at": created_at} if created_at is not None else {}),
        ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(OutboundMessage)
    )).scalar_one_or_none()
    if inserted is None:
        return None
    inline = session.info.get(INLINE_SENDS)
    if inline is not None and delay_s <= 0:
        # The worker sends it right after this transaction commits (no second job: half the queue work); a
        # crash in between leaves it queued, and the orphan sweep gives it a job.
        inline.append(inserted.id)
        return inserted
    await defer_send(session, inserted.id, conversation.id, delay_s)
    return inserted


async def defer_send(session: AsyncSession, outbound_id: int, conversation_id: int | None,
                     delay_s: float = 0.0) -> None:
    """The send job for a row. One send at a time per conversation keeps replies in order."""
    await session.execute(
        text("INSERT INTO crm.procrastinate_jobs (queue_name, task_name, priority, lock, args, scheduled_at) "
             "VALUES (:queue, :task, 0, :lock, jsonb_build_object('outbound_id', CAST(:id AS bigint)), "
             "CASE WHEN :delay > 0 THEN now() + make_interval(secs => :delay) END)"),
        {"queue": OUTBOUND_QUEUE, "task": SEND_TASK, "lock": f"conversation:{conversation_id}", "id": outbound_id,
         "delay": delay_s},
    )


async def conversation_recipient(session: AsyncSession, conversation: Conversation) -> str | None:
    """Who the conversation's customer is on its channel: the sender of its latest inbound message."""
    return (await session.scalars(
        select(Message.counterpart_external_id).where(
            Message.conversation_id == conversation.id, Message.direction == "inbound",
            Message.counterpart_external_id.is_not(None))
        .order_by(Message.sent_at.desc().nulls_last(), Message.id.desc()).limit(1))).first()


async def send_outbound(sessions: async_sessionmaker[AsyncSession], graph: GraphClient, settings: Settings,
                        outbound_id: int, throttle: SendThrottle | None = None) -> str:
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
        tag = await _apply_window(session, row, settings, datetime.now(UTC))
        if row.status == "failed":
            await session.commit()
            return "failed"
        if throttle is not None:  # waits (milliseconds at most, at the configured rates) holding only this row
            waited = await throttle.acquire(row.account_external_id, row.recipient_external_id)
            if waited > 0.5:
                log.info("outbox.throttled", outbound_id=outbound_id, waited_s=round(waited, 2))
        row.status, row.attempts = "sending", row.attempts + 1
        row.sending_started_at = datetime.now(UTC)
        token = await _token(session, row, settings)
        await session.commit()
    try:
        result = await _post(graph, row, token, tag)
    except GraphError as exc:
        if exc.window_closed and row.kind != "template":
            return await _retry_as_template(sessions, outbound_id, settings, exc)
        return await _record_failure(sessions, outbound_id, exc)
    return await _record_sent(sessions, outbound_id, result.external_id)


async def _post(graph: GraphClient, row: OutboundMessage, token: str | None, tag: str | None):  # noqa: ANN202
    if row.channel == "whatsapp":
        return await graph.send_whatsapp(row.account_external_id, row.recipient_external_id, row.payload,
                                         token, callback_data=row.idempotency_key)
    return await graph.send_messenger(row.account_external_id, row.recipient_external_id, row.payload,
                                      token, callback_data=row.idempotency_key, tag=tag)


async def _apply_window(session: AsyncSession, row: OutboundMessage, settings: Settings, now: datetime
                        ) -> str | None:
    """Outside the 24-hour window: swap a WhatsApp message for a template, tag a person's Messenger / Instagram
    answer HUMAN_AGENT, or fail the row with `window_closed`. Returns the Send API tag to use, if any."""
    if row.conversation_id is None:
        return None
    if not row.idempotency_key.startswith(DIRECT_ANSWER_PREFIXES) and row.contact_id is not None:
        contact = await session.get(Contact, row.contact_id)
        if contact is not None and contact.opted_out:
            row.status, row.error_code = "failed", "opted_out"
            row.last_error = "the contact opted out: only direct answers to what they write may go"
            return None
    if row.kind == "template":
        return None
    conversation = await session.get(Conversation, row.conversation_id)
    if conversation is None or window_open(conversation.last_inbound_at, now):
        return None
    if row.idempotency_key.startswith(("agent:", "csat:")) and row.channel == "whatsapp":
        # A person's words or a rating question are never swapped for a re-engagement template.
        _fail_window(row, "the window closed before it went; send an approved template instead")
        return None
    if row.channel == "whatsapp":
        if not await _use_template(session, row):
            _fail_window(row, "no approved re-engagement template (run `crm templates sync`)")
        return None
    if row.idempotency_key.startswith("agent:") and human_agent_tag_allowed(row.channel,
                                                                           conversation.last_inbound_at, now):
        return "HUMAN_AGENT"
    _fail_window(row, "only a person's answer within 7 days (HUMAN_AGENT tag) may go")
    return None


def _fail_window(row: OutboundMessage, why: str) -> None:
    row.status, row.error_code = "failed", "window_closed"
    row.last_error = f"outside the 24-hour customer-service window: {why}"
    log.warning("outbox.window_closed", outbound_id=row.id, channel=row.channel)


async def _use_template(session: AsyncSession, row: OutboundMessage) -> bool:
    """Rewrite the row as the account's approved re-engagement template, in the customer's language."""
    account = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == "whatsapp", ChannelAccount.external_id == row.account_external_id))).first()
    if account is None or not account.business_account_id:
        return False
    contact = await session.get(Contact, row.contact_id) if row.contact_id else None
    language = (contact.language if contact is not None else None) or "es"
    # An opted-out contact gets nothing that reads like marketing.
    categories = ("UTILITY",) if contact is not None and contact.opted_out else ("UTILITY", "MARKETING")
    template = await pick_reengagement_template(session, account.business_account_id, language,
                                                categories=categories)
    if template is None:
        return False
    name = ((contact.first_name or (contact.display_name or "").strip().split(" ")[0]).strip()
            if contact is not None else "")
    params = [name or ("cliente" if language != "en" else "there")][: template.parameter_count]
    params += [""] * (template.parameter_count - len(params))
    row.payload = whatsapp_template_message(template.name, template.language, params)
    row.kind, row.text = "template", render_template_text(template, params)
    log.info("outbox.window_template", outbound_id=row.id, template=template.name)
    return True


async def _retry_as_template(sessions: async_sessionmaker[AsyncSession], outbound_id: int, settings: Settings,
                             exc: GraphError) -> str:
    """Meta says the window is closed (131047) although our clock said open: send the template instead."""
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id, with_for_update=True)
        assert row is not None
        if row.channel == "whatsapp" and await _use_template(session, row):
            row.status, row.last_error, row.error_code = "queued", str(exc)[:2000], str(exc.code)
            await session.commit()
            raise RetryLater("window closed: retrying as a template")
        _fail_window(row, str(exc))
        await session.commit()
    return "failed"


async def give_up(sessions: async_sessionmaker[AsyncSession], outbound_id: int, error: str) -> str | None:
    """Settle a row whose job will not run again: `failed` if it never left, `unconfirmed` if a send was under
    way (it may have reached Meta: a person checks before sending it again)."""
    async with sessions() as session:
        row = await session.get(OutboundMessage, outbound_id, with_for_update=True)
        if row is None or row.status not in ("queued", "sending"):
            return row.status if row else None
        row.status = "unconfirmed" if row.status == "sending" else "failed"
        row.error_code = row.error_code or "gave_up"
        row.last_error = f"gave up: {error}"[:2000]
        await session.commit()
    log.error("outbox.gave_up", outbound_id=outbound_id, status=row.status, error=error[:300])
    return row.status


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


_tokens: dict[tuple[str, str], tuple[float, str | None]] = {}
TOKEN_CACHE_S = 60.0


async def _token(session: AsyncSession, row: OutboundMessage, settings: Settings) -> str | None:
    """The channel account's own token (else META_ACCESS_TOKEN), cached for a minute per process."""
    key = (row.channel, row.account_external_id)
    cached = _tokens.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    account = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == row.channel, ChannelAccount.external_id == row.account_external_id))).first()
    token = (decrypt_token(account.access_token_encrypted, settings.crm_secret_key)
             if account is not None and account.access_token_encrypted else settings.meta_access_token)
    _tokens[key] = (time.monotonic() + TOKEN_CACHE_S, token)
    return token


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
    started = row.sending_started_at or row.created_at
    if external_id is None and datetime.now(UTC) - started < CONFIRMATION_WINDOW:
        raise RetryLater("interrupted send: waiting for Meta's webhook to confirm it")
    if external_id is None:
        row.status = "unconfirmed"
        row.last_error = "interrupted during the send and no webhook confirms it went out; check before resending"
        log.error("outbox.unconfirmed", outbound_id=row.id)
        return "unconfirmed"
    row.status, row.external_id, row.sent_at = "sent", external_id, row.sent_at or datetime.now(UTC)
    log.info("outbox.confirmed_after_interruption", outbound_id=row.id, external_id=external_id)
    return "sent"


WINDOW_FAILURE_BATCH = 100


async def resend_window_failures(session: AsyncSession) -> int:
    """WhatsApp usually reports a closed window after accepting the send: a `failed` status webhook with error
    131047. Each such message is queued once more as the approved re-engagement template (key `<key>:template`),
    or, with none approved, its row is marked `window_closed`. Returns how many were handled."""
    rows = (await session.scalars(
        select(OutboundMessage).join(Message, Message.id == OutboundMessage.message_id).where(
            OutboundMessage.channel == "whatsapp", OutboundMessage.kind != "template",
            OutboundMessage.error_code.is_distinct_from("131047"),
            Message.status == "failed", Message.status_error.contains([{"code": 131047}]),
        ).limit(WINDOW_FAILURE_BATCH).with_for_update(of=OutboundMessage, skip_locked=True))).all()
    for row in rows:
        row.error_code = "131047"
        row.last_error = "Meta reported the 24-hour window closed (status webhook 131047)"
        conversation = await session.get(Conversation, row.conversation_id) if row.conversation_id else None
        if conversation is None:
            continue
        retry = await queue_message(session, conversation=conversation, contact_id=row.contact_id,
                                    key=f"{row.idempotency_key}:template", text_body=row.text or "",
                                    recipient=row.recipient_external_id, payload=row.payload, kind=row.kind)
        if retry is not None and not await _use_template(session, retry):
            _fail_window(retry, "no approved re-engagement template (run `crm templates sync`)")
        log.info("outbox.window_failure_resent", outbound_id=row.id, as_template=retry is not None
                 and retry.kind == "template")
    return len(rows)


async def requeue_orphans(session: AsyncSession) -> int:
    """Rows with no send job get one: queued ones (the worker died between its commit and the inline send) and
    sending ones (it died during the inline send: the job confirms from Meta's webhooks, never resends)."""
    orphans = (await session.execute(text(
        "SELECT o.id, o.conversation_id FROM crm.outbound_messages o WHERE ("
        "  (o.status = 'queued' AND o.created_at < now() - make_interval(secs => :after)) OR "
        "  (o.status = 'sending' AND o.sending_started_at < now() - make_interval(secs => :after))) AND NOT EXISTS ("
        "  SELECT 1 FROM crm.procrastinate_jobs j WHERE j.task_name = :task AND j.status IN ('todo', 'doing') "
        "  AND (j.args->>'outbound_id')::bigint = o.id) "
        "ORDER BY o.id LIMIT 500 FOR UPDATE OF o SKIP LOCKED"),
        {"after": ORPHAN_AFTER.total_seconds(), "task": SEND_TASK})).all()
    for outbound_id, conversation_id in orphans:
        await defer_send(session, outbound_id, conversation_id)
        log.warning("outbox.orphan_requeued", outbound_id=outbound_id)
    return len(orphans)
