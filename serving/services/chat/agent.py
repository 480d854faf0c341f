"""The agent's turn in the worker: escalate to a person when the criteria or the routing matrix say so,
otherwise compose a grounded reply and queue it in the outbox.

A paused bot (a person has the conversation) says nothing; auto_reject gets nothing. An opted-out contact still
gets direct replies to what they write: opting out concerns follow-ups and campaigns."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, Conversation, Message
from crm.settings import Settings, get_settings
from serving.services import catalog, handoff
from serving.services.customer_history import customer_history
from serving.services.chat.facts import ProductFact
from serving.services.chat.knowledge import account_answer, asks_about_account
from serving.services.chat.llm_reply import (
    compose_reply,
    customer_summary,
    default_writer,
    load_history,
    private_words,
    save_llm_calls,
)
from serving.services.chat.orders import apply_reply_action, with_selected_product
from serving.services.chat.responder import search_text, update_state
from serving.services.chat.state import DialogueState
from serving.services.closure import is_thanks, mark_resolved
from serving.services.escalation import (
    HUMAN_ROUTES,
    REASON_PRIORITY,
    EscalationDecision,
    EscalationPolicy,
    EscalationSignals,
    decide_escalation,
    department_for,
)
from serving.services.outbox import queue_reply
from serving.services.understanding import Understood

log = structlog.get_logger(__name__)

BOT_ROUTES = {"chatbot"}
# A customer answering the bot's own question is not spam, even when a short answer ("web, hasta $1200") looks
# like it to the classifier: below this confidence, an ongoing dialogue goes on.
SPAM_IN_DIALOGUE_CONFIDENCE = 0.9
# Replies that admit the bot could not help; three in a row hand the conversation to a person.
FAILED_ACTIONS = {"offer_human"}

TurnOutcome = Literal["human_has_it", "escalated", "ignored", "resolved", "replied", "duplicate"]


def _bot_answers(understood: Understood, state: DialogueState) -> bool:
    route = understood.routing.destination
    if route in BOT_ROUTES:
        return True
    return (route == "auto_reject" and state.turns > 1
            and understood.intent.confidence < SPAM_IN_DIALOGUE_CONFIDENCE)


def escalation_policy(settings: Settings) -> EscalationPolicy:
    return EscalationPolicy(transaction_above=Decimal(str(settings.escalation_transaction_above)),
                            max_bot_failures=settings.escalation_max_bot_failures)


def transaction_value(state: DialogueState, understood: Understood, candidates: list[ProductFact]) -> Decimal | None:
    """What the customer may be about to spend: quantity × the chosen product's price, else quantity × the
    largest amount they mentioned."""
    quantity = state.quantity or 1
    selected = next((p for p in candidates if p.sku == state.selected), None)
    if selected is not None:
        return selected.price * quantity
    amounts = [Decimal(str(m["amount"])) for m in understood.intent.entities.money if m.get("amount") is not None]
    return max(amounts) * quantity if amounts else None


def is_vip(contact: Contact) -> bool:
    attributes = contact.attributes or {}
    return attributes.get("vip") is True or str(attributes.get("tier", "")).lower() == "vip"


async def take_turn(session: AsyncSession, understood: Understood, message: Message, contact: Contact,
                    conversation: Conversation, settings: Settings | None = None) -> TurnOutcome:
    settings = settings or get_settings()
    if conversation.bot_paused:
        return "human_has_it"
    state = DialogueState.from_json(conversation.agent_state)
    text = message.text or ""
    language = contact.language or understood.language
    update_state(state, text, understood.intent, language)
    found = await catalog.search_products(session, search_text(state) or text, limit=8)
    candidates = [ProductFact(p.sku, p.name, p.price, p.currency, p.stock, p.description or "", p.category,
                              p.attributes or {}) for p, _ in found]
    candidates = await with_selected_product(session, state, candidates)  # the chosen one, even if not searched
    policies = await catalog.get_policies(session)
    conversation.agent_state = state.to_json()

    signals = EscalationSignals(text=text, average_sentiment=conversation.avg_sentiment,
                                analyzed_messages=conversation.analyzed_count, bot_failures=conversation.bot_failures,
                                transaction_amount=transaction_value(state, understood, candidates),
                                vip=is_vip(contact))
    decision = decide_escalation(signals, escalation_policy(settings))
    if state.cleared_reasons:  # a person handed it back knowing these
        kept = [r for r in decision.reasons if r not in state.cleared_reasons]
        decision = EscalationDecision(escalate=bool(kept), reasons=kept,
                                      priority=max((REASON_PRIORITY[r] for r in kept), default=0))
    route = understood.routing.destination
    if decision.escalate or route in HUMAN_ROUTES:
        await _escalate(session, settings, conversation, contact, message, route, decision.reasons,
                        max(decision.priority, understood.routing.priority), understood, language, policies)
        return "escalated"
    if not _bot_answers(understood, state):
        return "ignored"
    if conversation.status == "resolved":
        # The customer came back with more.
        conversation.status, conversation.resolved_at, conversation.close_reason = "open", None, None
    if state.turns > 1 and is_thanks(text):
        mark_resolved(conversation, datetime.now(UTC), by="bot")
        closing = ("¡Con gusto! Si necesitas algo más, aquí estoy 😊" if language != "en"
                   else "You're welcome! If you need anything else, I'm here 😊")
        await queue_reply(session, conversation=conversation, contact_id=contact.id, in_reply_to=message,
                          text_body=closing, quick_replies=[])
        return "resolved"

    if state.awaiting is None and asks_about_account(text):
        return await _answer_from_history(session, settings, conversation, contact, message, understood,
                                           language, policies)
    # With an LLM configured it writes the reply, checked against the catalog; otherwise (or when its draft
    # fails the check twice) the offline responder's answer goes.
    writer = default_writer(settings)
    history = await load_history(session, conversation.id, message) if writer is not None else []
    composed = await compose_reply(state, text, understood.intent, candidates, policies, history, writer,
                                   customer=customer_summary(contact, conversation), redact=private_words(contact))
    await save_llm_calls(session, composed.records)
    reply = composed.reply
    # A draft order (product, quantity, city, shipping confirmed): re-checked against live price and stock; when
    # refused, the reply text says why instead.
    await apply_reply_action(session, reply, contact=contact, conversation=conversation,
                             channel=conversation.channel)
    conversation.agent_state = reply.state.to_json()
    if reply.action in FAILED_ACTIONS:
        conversation.bot_failures = (conversation.bot_failures or 0) + 1
        if conversation.bot_failures >= settings.escalation_max_bot_failures:
            await _escalate(session, settings, conversation, contact, message, route, ["bot_failed_repeatedly"],
                            4, understood, language, policies)
            return "escalated"
    else:
        conversation.bot_failures = 0
    queued = await queue_reply(session, conversation=conversation, contact_id=contact.id, in_reply_to=message,
                               text_body=reply.text, quick_replies=reply.quick_replies)
    return "replied" if queued is not None else "duplicate"


async def _answer_from_history(session: AsyncSession, settings: Settings, conversation: Conversation,
                               contact: Contact, message: Message, understood: Understood, language: str,
                               policies: dict) -> TurnOutcome:
    """Order status and invoices from the customer's records; a promised follow-up becomes a ticket."""
    history = await customer_history(session, contact.id)
    answer = account_answer(message.text or "", history, language != "en")
    assert answer is not None  # asks_about_account matched
    await queue_reply(session, conversation=conversation, contact_id=contact.id, in_reply_to=message,
                      text_body=answer.text, quick_replies=[])
    if not answer.offer_human:
        return "replied"
    reason = "invoice_request" if answer.topic == "invoice" else "order_follow_up"
    await _escalate(session, settings, conversation, contact, message, "chatbot", [reason],
                    understood.routing.priority, understood, language, policies)
    return "escalated"


async def _escalate(session: AsyncSession, settings: Settings, conversation: Conversation, contact: Contact,
                    message: Message, route: str, reasons: list[str], priority: int, understood: Understood,
                    language: str, policies: dict) -> None:
    department = department_for(route, reasons, understood.intent.primary_intent)
    reasons = reasons or [f"routed_to_{route}"]
    await handoff.escalate(session, settings, conversation=conversation, contact=contact, department=department,
                           priority=priority, reasons=reasons, trigger=message, language=language,
                           policies=policies, now=None)
