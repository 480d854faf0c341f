"""What the worker does with a stored webhook event. Later issues add NLU, routing and replies here.

Idempotent: rows already processed are skipped, so a retry after a crash finishes the job without repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, Conversation, LeadAdSubmission, Message, RawWebhookEvent, SocialComment
from serving.services import comment_responder, consent, conversations
from serving.services.channels.common import pg_safe
from serving.services.identity import Identity, add_identity, identities_for_message, resolve_contact
from serving.services.ingest.json_body import decode_json
from serving.services.ingest.parser import parse_webhook
from serving.services.ingest.store import IncomingDelivery, build_statement
from serving.schemas.nlu import MAX_MESSAGE_CHARS
from serving.services.analysis_records import save_understood
from serving.services.automation.events import raise_event
from serving.services.chat.agent import take_turn
from serving.services.closure import capture_csat
from serving.services.media.attachments import plan_attachments
from serving.services.opt_out import confirmation as opt_out_confirmation
from serving.services.opt_out import is_opt_out
from serving.services.privacy.suppression import blank_erased
from serving.services.outbox import queue_reply
from serving.services.statuses import apply_recorded_status
from serving.services.understanding import Understanding

log = structlog.get_logger(__name__)

COMMENT_IDENTITY_KIND = {"instagram": "ig_user", "facebook": "fb_user"}


@dataclass(slots=True)
class ProcessSummary:
    raw_event_id: int
    messages: int = 0
    comments: int = 0
    leads: int = 0
    analyzed: int = 0
    contacts: set[int] = field(default_factory=set)
    conversations: set[int] = field(default_factory=set)
    skipped: bool = False


async def process_raw_event(session: AsyncSession, raw_event_id: int, renormalize: bool = False,
                            understanding: Understanding | None = None) -> ProcessSummary:
    summary = ProcessSummary(raw_event_id)
    event = await session.get(RawWebhookEvent, raw_event_id, with_for_update=True)
    if event is None or event.processing_status in ("processed", "no_action"):
        summary.skipped = True
        return summary
    now = datetime.now(UTC)
    if renormalize:
        await _renormalize(session, event)
    if understanding is not None:
        await understanding.refresh_catalog(session)
    if await blank_erased(session, raw_event_id):  # a late webhook about someone forgotten: not them again
        event.body, event.headers, event.unparsed, event.purged_at = None, {}, [], now
    await _process_messages(session, raw_event_id, summary, now, understanding)
    await _process_comments(session, raw_event_id, summary, now, understanding)
    await _process_leads(session, raw_event_id, summary, now)
    event.processing_status = "processed"
    event.processed_at = now
    event.last_error = None
    await session.commit()
    log.info("pipeline.event_processed", raw_event_id=raw_event_id, messages=summary.messages,
             analyzed=summary.analyzed,
             comments=summary.comments, leads=summary.leads, contacts=sorted(summary.contacts))
    return summary


async def _process_messages(session: AsyncSession, raw_event_id: int, summary: ProcessSummary,
                            now: datetime, understanding: Understanding | None) -> None:
    messages = (
        await session.scalars(
            select(Message)
            .where(Message.raw_event_id == raw_event_id, Message.processed_at.is_(None))
            .order_by(Message.sent_at.nulls_last(), Message.id)
        )
    ).all()
    for message in messages:
        if message.counterpart_external_id == "erased":  # forgotten while its event waited in the queue
            message.processed_at = now
            continue
        identities = identities_for_message(message)
        if identities:
            contact = await resolve_contact(
                session,
                identities,
                display_name=(message.sender_profile or {}).get("name"),
                seen_at=message.sent_at if message.direction == "inbound" else None,
                account_external_id=message.account_external_id,
            )
            # A rating answering the CSAT question of a closed conversation belongs to that conversation.
            rated = (await capture_csat(session, message, contact.id)
                     if message.direction == "inbound" else None)
            conversation = rated or await conversations.open_or_reuse(
                session, contact.id, message.channel, message.account_external_id
            )
            conversations.touch(conversation, message.sent_at or now, message.direction)
            conversation.message_count = (conversation.message_count or 0) + 1
            message.contact_id = contact.id
            message.conversation_id = conversation.id
            summary.contacts.add(contact.id)
            summary.conversations.add(conversation.id)
            if message.message_type == "system":
                await _apply_system_message(session, message, contact)
            if understanding is not None and is_analyzable(message) and rated is None:
                await _understand_message(session, understanding, message, contact, conversation)
                summary.analyzed += 1
        # WhatsApp statuses only concern what the business sent; elsewhere an unsend can hit an inbound message.
        if message.direction == "outbound" or message.channel != "whatsapp":
            await apply_recorded_status(session, message)
        if message.direction == "inbound" and message.media:  # downloaded by their own jobs, never waited for
            await plan_attachments(session, message, now)
        message.processed_at = now
        summary.messages += 1


NOT_ANALYZED_TYPES = {"reaction", "system", "unsupported", "unknown", "referral", "optin", "message_edit",
                      "location", "contacts"}
# A lead score stays for a week unless a newer message scores higher: "ok gracias" after "necesito 200 sillas
# hoy" does not make the contact cold.
LEAD_SCORE_HOLD = timedelta(days=7)
# Below this many letters the language guess is too weak to change what the contact is answered in.
LANGUAGE_MIN_LETTERS = 15


def is_analyzable(message: Message) -> bool:
    """Inbound text a customer wrote: text, captions, button and list titles, quick replies."""
    return (message.direction == "inbound" and bool(message.text and message.text.strip())
            and message.message_type not in NOT_ANALYZED_TYPES)


async def _understand_message(session: AsyncSession, understanding: Understanding, message: Message,
                              contact: Contact, conversation: Conversation) -> None:
    text = message.text[:MAX_MESSAGE_CHARS] if message.text else ""
    # No phone number or name: this context may go to an LLM provider, and it adds nothing to the scoring.
    metadata = {"channel": message.channel, "previous_messages": conversation.message_count}
    understood = await understanding.understand(text, metadata)
    await save_understood(session, understood, message_id=message.id, contact_id=contact.id,
                          conversation_id=conversation.id, source="pipeline")
    sentiment = understood.sentiment.score
    conversation.analyzed_count = (conversation.analyzed_count or 0) + 1
    conversation.sentiment_sum = (conversation.sentiment_sum or 0.0) + sentiment
    conversation.avg_sentiment = round(conversation.sentiment_sum / conversation.analyzed_count, 4)
    conversation.last_intent = understood.intent.primary_intent
    conversation.route = understood.routing.destination
    conversation.priority = understood.routing.priority
    scored_at = message.sent_at or datetime.now(UTC)
    if _takes_lead_score(contact, understood.lead.score, scored_at):
        contact.lead_score = understood.lead.score
        contact.lead_category = understood.lead.category
        contact.lead_scored_at = scored_at
    if contact.language is None or sum(ch.isalpha() for ch in text) >= LANGUAGE_MIN_LETTERS:
        contact.language = understood.language
    await raise_event(session, "message.received", "message", message.id, {
        "message_id": message.id, "contact_id": contact.id, "conversation_id": conversation.id,
        "channel": message.channel, "intent": understood.intent.primary_intent,
        "sentiment": understood.sentiment.sentiment, "lead_score": understood.lead.score})
    if understood.lead.category == "hot":  # once a day per contact, however many hot messages
        await raise_event(session, "lead.hot", "contact", contact.id, {
            "contact_id": contact.id, "conversation_id": conversation.id, "lead_score": understood.lead.score,
            "signals": understood.lead.signals, "message_id": message.id},
            key=f"lead.hot:{contact.id}:{scored_at.date().isoformat()}")
    if is_opt_out(text):
        at = message.sent_at or datetime.now(UTC)
        await consent.record(session, contact, "opt_out", source="message", scope="all", occurred_at=at,
                             channel=message.channel, evidence=f"message:{message.id}")
        contact.attributes = {**(contact.attributes or {}), "opted_out_at": at.isoformat(),
                              "opted_out_via": message.channel}
        await queue_reply(session, conversation=conversation, contact_id=contact.id, in_reply_to=message,
                          text_body=opt_out_confirmation(contact.language or understood.language), quick_replies=[])
        log.info("pipeline.opted_out", contact_id=contact.id)
    else:
        if consent.is_opt_in(text):  # START / ALTA: messages (and offers) may come again
            await consent.record(session, contact, "opt_in", source="message", scope="all",
                                 occurred_at=message.sent_at or datetime.now(UTC), channel=message.channel,
                                 evidence=f"message:{message.id}")
        outcome = await take_turn(session, understood, message, contact, conversation)
        log.info("pipeline.turn", message_id=message.id, conversation_id=conversation.id, outcome=outcome)


def _takes_lead_score(contact: Contact, score: int, scored_at: datetime) -> bool:
    """Newer messages replace the score, except a lower one within the hold period; older ones never do."""
    if contact.lead_scored_at is None or contact.lead_score is None:
        return True
    if scored_at < contact.lead_scored_at:
        return False
    return score >= contact.lead_score or scored_at - contact.lead_scored_at > LEAD_SCORE_HOLD


async def _renormalize(session: AsyncSession, event: RawWebhookEvent) -> None:
    """Recover a dead letter kept at ingest (its body could not be parsed or stored as parsed): parse the stored
    body again with today's code and insert its normalized rows, in this job's transaction."""
    if event.body is None:
        return
    payload = decode_json(event.body)
    parsed = parse_webhook(payload)
    delivery = IncomingDelivery(body=event.body, headers=event.headers or {}, signature_state=event.signature_state,
                                parsed=parsed, sha256=event.body_sha256)
    sql, params = build_statement([delivery], existing_raw=True)
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    await driver.execute(sql, params)
    event.item_counts = parsed.counts()
    event.unparsed = pg_safe(parsed.unparsed)
    log.info("pipeline.event_renormalized", raw_event_id=event.id, **parsed.counts())


async def _apply_system_message(session: AsyncSession, message: Message, contact) -> None:  # noqa: ANN001
    """A customer who changed number keeps their history: the new wa_id joins their identities."""
    system = (message.payload or {}).get("system") or {}
    new_wa_id = system.get("wa_id") or system.get("new_wa_id")
    if system.get("type") in ("user_changed_number", "customer_changed_number") and new_wa_id:
        await add_identity(session, contact, Identity("whatsapp", "wa_id", str(new_wa_id)))


async def _process_comments(session: AsyncSession, raw_event_id: int, summary: ProcessSummary,
                            now: datetime, understanding: Understanding | None) -> None:
    comments = (
        await session.scalars(
            select(SocialComment).where(SocialComment.raw_event_id == raw_event_id,
                                        SocialComment.processed_at.is_(None))
        )
    ).all()
    for comment in comments:
        # Our own page commenting on its own post is not a customer.
        if comment.author_external_id and comment.author_external_id != comment.account_external_id:
            kind = COMMENT_IDENTITY_KIND[comment.channel]
            contact = await resolve_contact(
                session,
                [Identity(comment.channel, kind, comment.author_external_id)],
                display_name=comment.author_name,
                seen_at=comment.created_time,
                account_external_id=comment.account_external_id,
            )
            comment.contact_id = contact.id
            summary.contacts.add(contact.id)
        await comment_responder.plan(session, comment, understanding, now)  # flow 17
        comment.processed_at = now
        summary.comments += 1


async def _process_leads(session: AsyncSession, raw_event_id: int, summary: ProcessSummary,
                         now: datetime) -> None:
    leads = (
        await session.scalars(
            select(LeadAdSubmission).where(LeadAdSubmission.raw_event_id == raw_event_id,
                                           LeadAdSubmission.processed_at.is_(None))
        )
    ).all()
    for lead in leads:
        # The form answers are fetched from the Graph API by the lead-ads flow; here the submission is logged.
        lead.processed_at = now
        summary.leads += 1
