"""Flow 6 with an LLM: a draft written from the searched products and the policies, checked against them, asked
for once more with the problems listed, and otherwise replaced by the offline responder's answer.

The caller gets the responder's `Reply` either way, so it never cares who wrote the text; `author` and the call
records say who did and what it cost. The local responder always runs first (it is cheap and pure): its reply is
the fallback, and its reading of the customer's words (which product they chose) keeps the dialogue state moving
the same way whoever writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Contact, Conversation, LlmCall, Message
from crm.settings import Settings
from ml.llm.base import LlmCallRecord
from ml.llm.reply_writer import (
    CUSTOMER_ROLES,
    MAX_HISTORY_TURNS,
    REPLY_TASK,
    Repair,
    ReplyDraft,
    ReplyRequest,
    ReplyWriter,
    build_providers,
)
from ml.nlu.types import IntentResult
from serving.services.chat.facts import ProductFact, money
from serving.services.chat.facts_check import (
    KnownFacts,
    check_draft,
    stated_prices,
    unknown_product_names,
    unknown_skus,
)
from serving.services.chat.responder import Reply, respond
from serving.services.chat.state import DialogueState

LOCAL_AUTHOR = "local"
# Local actions an LLM may reword: answering, or admitting nothing in the catalog matches.
CONVERSATIONAL_ACTIONS = frozenset({None, "offer_human"})
log = structlog.get_logger(__name__)


@dataclass
class ComposedReply:
    reply: Reply
    author: str  # "local" or "provider:model"
    records: list[LlmCallRecord] = field(default_factory=list)  # every LLM call made for this reply
    rejected: list[str] = field(default_factory=list)  # what the fact check found in drafts that were not sent


async def compose_reply(state: DialogueState, text: str, intent: IntentResult, candidates: list[ProductFact],
                        policies: dict[str, Any], history: Sequence[tuple[str, str]] = (),
                        writer: ReplyWriter | None = None, *, customer: str = "",
                        redact: Sequence[str] = ()) -> ComposedReply:
    """The reply to one customer message (`state` is updated in place, as `respond` does)."""
    shown_before = list(state.recommended)
    dialogue = _dialogue(state)
    local = respond(state, text, intent, candidates, policies)
    if writer is None or not writer.providers or _transactional(state, local):
        return ComposedReply(local, LOCAL_AUTHOR)

    request = ReplyRequest(message=text, products=[product_context(p) for p in candidates], policies=policies,
                           language=state.language, history=list(history)[-MAX_HISTORY_TURNS:],
                           customer=customer, dialogue=dialogue, redact=tuple(redact))
    facts = KnownFacts(candidates, policies)
    allowed = _allowed_amounts(state, text, intent, history)
    customer_words = " \n ".join([text, *(t for role, t in history if role.lower() in CUSTOMER_ROLES)])
    deadline = asyncio.get_running_loop().time() + writer.deadline_s
    records: list[LlmCallRecord] = []
    rejected: list[str] = []
    repair: Repair | None = None
    for _attempt in range(2):
        result = await writer.write(request, repair, deadline=deadline)
        records += result.records
        if result.draft is None:  # every provider failed: nothing to repair
            break
        problems = check_draft(result.draft.text, result.draft.products, candidates, policies, allowed,
                               customer_text=customer_words)
        if not problems:
            reply = _from_draft(result.draft, state, local, facts, shown_before, allowed)
            log.info("chat.llm_reply", author=_author(result.draft), repaired=repair is not None,
                     rejected=len(rejected))
            return ComposedReply(reply, _author(result.draft), records, rejected)
        _mark_rejected(records[-1], problems)
        rejected += problems
        repair = Repair(result.draft.text, problems)
    log.info("chat.llm_reply_fallback", rejected=rejected, calls=len(records))
    return ComposedReply(local, LOCAL_AUTHOR, records, rejected)


def product_context(product: ProductFact) -> dict[str, Any]:
    """A product as the model sees it; `price_text` is the spelling the fact check and the customer expect."""
    return {"sku": product.sku, "name": product.name, "price": str(product.price),
            "price_text": money(product.price, product.currency), "currency": product.currency,
            "stock": product.stock, "description": product.description, "category": product.category,
            "attributes": product.attributes or {}}


def build_reply_writer(settings: Settings) -> ReplyWriter | None:
    """The writer for LLM_PROVIDERS, or None when no provider is configured with a key (the local responder
    answers alone). The turn's deadline matches the understanding step's: two provider timeouts."""
    providers = build_providers(
        settings.llm_providers,
        keys={"openai": settings.openai_api_key, "anthropic": settings.anthropic_api_key,
              "gemini": settings.gemini_api_key},
        models={"openai": settings.openai_model, "anthropic": settings.anthropic_model,
                "gemini": settings.gemini_model},
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    return ReplyWriter(providers, deadline_s=settings.llm_timeout_s * 2) if providers else None


_default: tuple[Settings, ReplyWriter | None] | None = None


def default_writer(settings: Settings) -> ReplyWriter | None:
    """One writer per Settings object (the process has one), so provider clients and connection pools are reused."""
    global _default
    if _default is None or _default[0] is not settings:
        _default = (settings, build_reply_writer(settings))
    return _default[1]


async def save_llm_calls(session: AsyncSession, records: Sequence[LlmCallRecord], task: str = REPLY_TASK) -> None:
    """The calls as crm.llm_calls rows, in the caller's transaction (the one that queues the reply)."""
    session.add_all([
        LlmCall(task=task, provider=r.provider, model=r.model, latency_ms=r.latency_ms, input_tokens=r.input_tokens,
                output_tokens=r.output_tokens, estimated_cost_usd=r.estimated_cost_usd, outcome=r.outcome,
                error=(r.error or None) and str(r.error)[:2000])
        for r in records
    ])


async def load_history(session: AsyncSession, conversation_id: int, before: Message,
                       limit: int = MAX_HISTORY_TURNS) -> list[tuple[str, str]]:
    """The conversation's last text messages stored before `before`, oldest first, as (role, text). Ids follow
    insertion order: inbound messages at ingest, the bot's and agents' when they were sent."""
    rows = (await session.execute(
        select(Message.direction, Message.text)
        .where(Message.conversation_id == conversation_id, Message.id < before.id, Message.text.is_not(None),
               Message.deleted_at.is_(None))
        .order_by(Message.id.desc()).limit(limit)
    )).all()
    return [("customer" if direction == "inbound" else "assistant", text) for direction, text in reversed(rows)]


def customer_summary(contact: Contact, conversation: Conversation | None = None) -> str:
    """What helps the model tailor the answer, without anything that identifies the person."""
    parts = {"idioma": contact.language, "país": contact.country, "ciudad": contact.city,
             "lead": contact.lead_category, "canal": conversation.channel if conversation else None,
             "mensajes en la conversación": conversation.message_count if conversation else None}
    return "; ".join(f"{key}: {value}" for key, value in parts.items() if value not in (None, ""))


def private_words(contact: Contact) -> list[str]:
    """The customer's names, masked before any text reaches a provider."""
    names = [contact.display_name, contact.first_name, contact.last_name]
    return [word for name in names if name for word in name.split() if len(word) >= 3]


def _from_draft(draft: ReplyDraft, state: DialogueState, local: Reply, facts: KnownFacts,
                shown_before: list[str], allowed: list[Decimal]) -> Reply:
    """The draft as a Reply. `selected` stays the local reading of the customer's words; `recommended` becomes
    the products the draft offered when it offered new ones (the customer saw those, not the local pick)."""
    products = [sku for sku in draft.products if facts.has_sku(sku)]
    shown = shown_before or ([state.selected] if state.selected else [])
    if products and not set(products) <= {*shown, state.selected}:
        shown = products
    state.recommended = shown
    chips = [chip for chip in draft.quick_replies if not unknown_skus(chip, facts) and
             not unknown_product_names(chip, facts)]
    # The action depends on the catalog search (nothing matched: offer a person), not on who wrote the words.
    return Reply(draft.text, state, quick_replies=chips, products=products, action=local.action,
                 allowed_amounts=allowed)


def _transactional(state: DialogueState, local: Reply) -> bool:
    """Order taking is a state machine: the question sent must be the one the state now waits for, so those turns
    keep the local wording."""
    return local.action not in CONVERSATIONAL_ACTIONS or bool(state.awaiting) or state.ordering


def _dialogue(state: DialogueState) -> dict[str, Any]:
    known = {"presupuesto": state.budget, "busca": " ".join(state.need) or None, "cantidad": state.quantity,
             "ya_recomendados": state.recommended or None, "eligio": state.selected, "ciudad": state.city}
    return {key: value for key, value in known.items() if value is not None}


def _allowed_amounts(state: DialogueState, text: str, intent: IntentResult,
                     history: Sequence[tuple[str, str]]) -> list[Decimal]:
    """Amounts the customer stated may be repeated back ("no tengo opciones por $800")."""
    amounts: set[Decimal] = set(stated_prices(text))
    amounts |= {Decimal(str(m["amount"])) for m in intent.entities.money if m.get("amount") is not None}
    for role, turn in history:
        if role.lower() in CUSTOMER_ROLES:
            amounts |= stated_prices(turn)
    if state.budget_amount is not None:
        amounts.add(state.budget_amount)
    return sorted(amounts)


def _mark_rejected(record: LlmCallRecord, problems: list[str]) -> None:
    """The call answered, but with a draft that could not be sent: recorded as invalid output."""
    record.outcome = "invalid_output"
    record.error = ("fact check: " + "; ".join(problems))[:500]


def _author(draft: ReplyDraft) -> str:
    return f"{draft.provider}:{draft.model}"
