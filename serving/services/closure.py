"""Case closure (flow 9): conversations resolved by the bot or a person, or idle too long, are closed with a
reason; a 1-5 CSAT question goes out only inside the 24-hour window, and the answer is kept on the conversation.

`close_conversations` is the worker's periodic task body; `close` is shared with the agent API."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, Conversation, Message, Ticket
from crm.db.models.support import TICKET_LIVE_STATUSES
from crm.settings import Settings
from ml.nlu.text import fold
from serving.services.outbox import queue_message
from serving.services.window import SERVICE_WINDOW, window_open
from serving.services.automation.events import raise_event

log = structlog.get_logger(__name__)

CSAT_OPTIONS_ES = [("csat_5", "5 - Excelente"), ("csat_4", "4 - Buena"), ("csat_3", "3 - Regular"),
                   ("csat_2", "2 - Mala"), ("csat_1", "1 - Muy mala")]
CSAT_OPTIONS_EN = [("csat_5", "5 - Excellent"), ("csat_4", "4 - Good"), ("csat_3", "3 - Okay"),
                   ("csat_2", "2 - Poor"), ("csat_1", "1 - Very poor")]
CSAT_ID = re.compile(r"^csat_([1-5])$", re.IGNORECASE)
CSAT_TEXT = re.compile(r"^\s*([1-5])(\s*(/\s*5|estrellas?|stars?|-.*)?)?\s*$")
# "gracias, eso es todo" after the bot answered: the bot resolved it.
THANKS = re.compile(r"\b(gracias|muchas gracias|eso es todo|es todo|listo|perfecto|genial|excelente|thanks|thank you|"
                    r"thx|that'?s all|all good|great|perfect|bye|adios|chao|hasta luego)\b")
MAX_THANKS_WORDS = 8
SWEEP_BATCH = 200


@dataclass
class ClosureReport:
    closed: dict[str, int] = field(default_factory=dict)
    csat_sent: int = 0


def is_thanks(text: str) -> bool:
    folded = fold(text)
    return bool(THANKS.search(folded)) and len(folded.split()) <= MAX_THANKS_WORDS and "?" not in text


def csat_answer(message: Message) -> int | None:
    """The rating in a tapped CSAT option (its id comes back in the payload) or a bare "4" typed back."""
    return csat_tapped(message) or csat_typed(message)


def csat_tapped(message: Message) -> int | None:
    payload = message.payload or {}
    reply_id = ((payload.get("interactive") or {}).get("id") or (payload.get("quick_reply") or {}).get("payload")
                or (payload.get("button") or {}).get("payload"))
    if reply_id and (match := CSAT_ID.match(str(reply_id))):
        return int(match.group(1))
    return None


def csat_typed(message: Message) -> int | None:
    if message.text and (match := CSAT_TEXT.match(message.text)):
        return int(match.group(1))
    return None


async def capture_csat(session: AsyncSession, message: Message, contact_id: int) -> Conversation | None:
    """If this inbound message answers a CSAT question asked within the last 24 hours, store the score on that
    (closed) conversation and return it, so the answer does not open a new conversation."""
    score = csat_tapped(message)
    if score is None and (score := csat_typed(message)) is not None:
        # A bare "2" may answer the bot in a newer conversation ("¿cuántas unidades?"): only a rating then.
        live = (await session.scalars(select(Conversation.id).where(
            Conversation.contact_id == contact_id, Conversation.channel == message.channel,
            Conversation.account_external_id == message.account_external_id,
            Conversation.status != "closed").limit(1))).first()
        if live is not None:
            return None
    if score is None:
        return None
    since = (message.sent_at or datetime.now(UTC)) - SERVICE_WINDOW
    conversation = (await session.scalars(select(Conversation).where(
        Conversation.contact_id == contact_id, Conversation.channel == message.channel,
        Conversation.account_external_id == message.account_external_id,
        Conversation.csat_requested_at >= since, Conversation.csat_score.is_(None))
        .order_by(Conversation.csat_requested_at.desc()).limit(1).with_for_update())).first()
    if conversation is None:
        return None
    conversation.csat_score = score
    log.info("closure.csat_received", conversation_id=conversation.id, score=score)
    return conversation


async def close(session: AsyncSession, settings: Settings, conversation: Conversation, reason: str,
                now: datetime | None = None, ask_csat: bool = True) -> bool:
    """Close the conversation and its live ticket; ask for a rating when allowed. Returns whether CSAT was asked."""
    now = now or datetime.now(UTC)
    conversation.status, conversation.closed_at, conversation.close_reason = "closed", now, reason
    conversation.bot_paused = False
    await session.execute(update(Ticket).where(
        Ticket.conversation_id == conversation.id, Ticket.status.in_(TICKET_LIVE_STATUSES))
        .values(status="closed", resolved_at=now))
    contact = await session.get(Contact, conversation.contact_id)
    await raise_event(session, "conversation.closed", "conversation", conversation.id, {
        "conversation_id": conversation.id, "contact_id": conversation.contact_id, "reason": reason,
        "channel": conversation.channel}, key=f"conversation.closed:{conversation.id}:{int(now.timestamp())}")
    if not (ask_csat and settings.csat_enabled and contact is not None and not contact.opted_out
            and window_open(conversation.last_inbound_at, now)):
        log.info("closure.closed", conversation_id=conversation.id, reason=reason, csat=False)
        return False
    es = (contact.language or "es") != "en"
    question = ("¡Gracias por escribirnos! ¿Cómo calificarías la atención que recibiste, del 1 al 5?" if es else
                "Thanks for reaching out! How would you rate the help you got, from 1 to 5?")
    queued = await queue_message(session, conversation=conversation, contact_id=contact.id,
                                 key=f"csat:{conversation.id}", text_body=question,
                                 quick_replies=list(CSAT_OPTIONS_ES if es else CSAT_OPTIONS_EN))
    if queued is not None:
        conversation.csat_requested_at = now
    log.info("closure.closed", conversation_id=conversation.id, reason=reason, csat=queued is not None)
    return queued is not None


def mark_resolved(conversation: Conversation, now: datetime, by: str) -> None:
    """`by` is `bot` or `agent`: the reason the conversation closes with after the grace period."""
    if conversation.status in ("open", "human", "pending_human"):
        conversation.status, conversation.resolved_at = "resolved", now
        conversation.close_reason = f"resolved_by_{by}"


async def close_conversations(session: AsyncSession, settings: Settings, now: datetime | None = None
                              ) -> ClosureReport:
    """One sweep: resolved conversations after a short grace period, idle ones after the configured time."""
    now = now or datetime.now(UTC)
    resolved_before = now - timedelta(minutes=settings.conversation_resolved_close_minutes)
    idle_before = now - timedelta(hours=settings.conversation_idle_close_hours)
    human_idle_before = now - timedelta(hours=settings.human_conversation_idle_close_hours)
    due = (await session.scalars(select(Conversation).where(or_(
        and_(Conversation.status == "resolved", Conversation.resolved_at < resolved_before),
        and_(Conversation.status == "open", Conversation.last_message_at < idle_before),
        and_(Conversation.status.in_(("human", "pending_human")), Conversation.last_message_at < human_idle_before),
    )).order_by(Conversation.id).limit(SWEEP_BATCH).with_for_update(skip_locked=True))).all()
    report = ClosureReport()
    for conversation in due:
        if conversation.status == "resolved":
            reason = conversation.close_reason or "resolved_by_bot"
        else:
            reason = "inactivity"
        if await close(session, settings, conversation, reason, now):
            report.csat_sent += 1
        report.closed[reason] = report.closed.get(reason, 0) + 1
    return report
