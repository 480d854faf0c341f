"""The agent API: list conversations, claim one (the bot pauses), reply through the outbox, hand it back to the
bot, close it. Reading needs a `read` key; acting needs an `agent` key (an agent's own, or admin naming one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, status
from sqlalchemy import select

from crm.db.models import Agent, ChannelAccount, Contact, Conversation, Message, OutboundMessage, Ticket
from serving.deps import AgentKey, Principal, ReadKey, SessionDep, SettingsDep
from serving.schemas.conversations import (
    AgentMessageIn,
    ClaimIn,
    CloseIn,
    ConversationOut,
    ConversationStatus,
    HandbackIn,
    MessageOut,
    QueuedMessageOut,
    TicketOut,
)
from serving.services import closure, handoff
from serving.services.channels.graph import TemplateParameterError, whatsapp_template_message
from serving.services.outbox import queue_message
from serving.services.templates import approved_template, render_template_text
from serving.services.window import human_agent_tag_allowed, window_closes_at, window_open

router = APIRouter(prefix="/conversations", tags=["conversations"])
ConversationId = Annotated[int, Path(ge=1, le=2**63 - 1)]
AgentIdParam = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Admin keys: the agent acted for.")]


@router.get("", response_model=list[ConversationOut])
async def list_conversations(session: SessionDep, _: ReadKey, status_: Annotated[
        ConversationStatus | None, Query(alias="status")] = None, department: str | None = None,
        agent_id: AgentIdParam = None, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
) -> list[ConversationOut]:
    """Most urgent first (priority, then the longest waiting)."""
    query = select(Conversation)
    if status_ is not None:
        query = query.where(Conversation.status == status_)
    if department is not None or agent_id is not None:
        query = query.join(Ticket, (Ticket.conversation_id == Conversation.id)
                           & Ticket.status.in_(("open", "assigned")))
        if department is not None:
            query = query.where(Ticket.department == department)
        if agent_id is not None:
            query = query.where(Ticket.agent_id == agent_id)
    query = query.order_by(Conversation.priority.desc().nulls_last(), Conversation.last_message_at.asc(),
                           Conversation.id).limit(limit).offset(offset)
    return [await _view(session, c) for c in (await session.scalars(query)).all()]


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(conversation_id: ConversationId, session: SessionDep, _: ReadKey) -> ConversationOut:
    return await _view(session, await _conversation(session, conversation_id))


@router.get("/{conversation_id}/messages", response_model=list[MessageOut])
async def conversation_messages(conversation_id: ConversationId, session: SessionDep, _: ReadKey,
                                limit: int = Query(100, ge=1, le=1000)) -> list[MessageOut]:
    """The thread, oldest first (the latest `limit` messages)."""
    await _conversation(session, conversation_id)
    rows = (await session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                  .order_by(Message.sent_at.desc().nulls_last(), Message.id.desc())
                                  .limit(limit))).all()
    return [MessageOut.model_validate(m) for m in reversed(rows)]


@router.post("/{conversation_id}/claim", response_model=ConversationOut)
async def claim(conversation_id: ConversationId, session: SessionDep, principal: AgentKey,
                body: ClaimIn | None = None, agent_id: AgentIdParam = None) -> ConversationOut:
    """Take the conversation: its ticket is yours and the bot stops answering until you hand it back."""
    body = body or ClaimIn()
    agent = await _acting_agent(session, principal, agent_id or body.agent_id)
    conversation = await _conversation(session, conversation_id, for_update=True)
    await _claim(session, conversation, agent, force=body.force)
    await session.commit()
    return await _view(session, conversation)


@router.post("/{conversation_id}/messages", response_model=QueuedMessageOut, status_code=status.HTTP_202_ACCEPTED)
async def send_message(conversation_id: ConversationId, body: AgentMessageIn, session: SessionDep, principal: AgentKey,
                       settings: SettingsDep, agent_id: AgentIdParam = None,
                       idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> QueuedMessageOut:
    """Queue a message to the customer (sent once, in order, by the worker). Claims the conversation if nobody
    has it. Send the same `Idempotency-Key` header again and the first message is returned, not a second one."""
    agent = await _acting_agent(session, principal, agent_id)
    conversation = await _conversation(session, conversation_id, for_update=True)
    if conversation.status == "closed":
        raise HTTPException(status.HTTP_409_CONFLICT, "the conversation is closed")
    # Scoped to the conversation and the key that sent it: one caller's "1" never swallows another's message.
    key = (f"agent:{conversation_id}:{principal.key_id}:{idempotency_key}" if idempotency_key
           else f"agent:{conversation_id}:{uuid.uuid4().hex}")
    existing = (await session.scalars(select(OutboundMessage).where(OutboundMessage.idempotency_key == key))).first()
    if existing is not None:
        return QueuedMessageOut(outbound_id=existing.id, status=existing.status, kind=existing.kind, duplicate=True)
    await _claim(session, conversation, agent, force=False)
    payload = kind = None
    text_body = body.text
    now = datetime.now(UTC)
    if body.template is not None:
        payload, text_body = await _template_payload(session, conversation, body)
        kind = "template"
    elif not window_open(conversation.last_inbound_at, now) and not human_agent_tag_allowed(
            conversation.channel, conversation.last_inbound_at, now):
        raise HTTPException(status.HTTP_409_CONFLICT,
                            "the 24-hour customer-service window is closed (the customer last wrote "
                            f"{conversation.last_inbound_at:%Y-%m-%d %H:%M} UTC): send an approved `template` instead"
                            if conversation.last_inbound_at else "the customer has not written yet: send a template")
    queued = await queue_message(session, conversation=conversation, contact_id=conversation.contact_id, key=key,
                                 text_body=text_body or "", quick_replies=list(body.quick_replies),
                                 payload=payload, kind=kind)
    assert queued is not None
    await session.commit()
    return QueuedMessageOut(outbound_id=queued.id, status=queued.status, kind=queued.kind)


@router.post("/{conversation_id}/handback", response_model=ConversationOut)
async def hand_back(conversation_id: ConversationId, session: SessionDep, principal: AgentKey,
                    body: HandbackIn | None = None, agent_id: AgentIdParam = None) -> ConversationOut:
    """Give the conversation back to the bot: the ticket is resolved and the bot answers the next message."""
    agent = await _acting_agent(session, principal, agent_id)
    conversation = await _conversation(session, conversation_id, for_update=True)
    if conversation.status == "closed":
        raise HTTPException(status.HTTP_409_CONFLICT, "the conversation is closed")
    await _require_owner(session, conversation, agent, principal)
    await handoff.hand_back(session, conversation)
    if body and body.note:
        ticket = (await session.scalars(select(Ticket).where(Ticket.conversation_id == conversation.id)
                                        .order_by(Ticket.id.desc()).limit(1))).first()
        if ticket is not None:
            ticket.details = {**(ticket.details or {}), "handback_note": body.note}
    await session.commit()
    return await _view(session, conversation)


@router.post("/{conversation_id}/close", response_model=ConversationOut)
async def close(conversation_id: ConversationId, session: SessionDep, principal: AgentKey, settings: SettingsDep,
                body: CloseIn | None = None, agent_id: AgentIdParam = None) -> ConversationOut:
    """Close the case; a 1-5 rating question goes out if the 24-hour window is still open."""
    body = body or CloseIn()
    agent = await _acting_agent(session, principal, agent_id)
    conversation = await _conversation(session, conversation_id, for_update=True)
    if conversation.status == "closed":
        raise HTTPException(status.HTTP_409_CONFLICT, "the conversation is already closed")
    await _require_owner(session, conversation, agent, principal)
    await closure.close(session, settings, conversation, body.reason, ask_csat=body.ask_csat)
    await session.commit()
    return await _view(session, conversation)


async def _acting_agent(session: SessionDep, principal: Principal, agent_id: int | None) -> Agent:
    """The agent an `agent` key belongs to; an admin key names the agent it acts for."""
    if principal.scope != "admin":
        if principal.agent_id is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this key belongs to no agent: create the agent's own "
                                                           "key with `crm apikey create --scope agent --agent ID`")
        if agent_id not in (None, principal.agent_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this key belongs to another agent")
        chosen = principal.agent_id
    else:
        chosen = agent_id if agent_id is not None else principal.agent_id
        if chosen is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "an admin key acts for an agent: pass "
                                                                       "`agent_id`")
    agent = await session.get(Agent, chosen)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent {chosen}")
    return agent


async def _require_owner(session: SessionDep, conversation: Conversation, agent: Agent,
                         principal: Principal) -> None:
    """Another agent's live conversation is theirs to hand back or close (admins may)."""
    ticket = await handoff.live_ticket(session, conversation.id)
    if ticket is not None and ticket.agent_id not in (None, agent.id) and principal.scope != "admin":
        raise HTTPException(status.HTTP_409_CONFLICT, f"agent {ticket.agent_id} has this conversation")


async def _conversation(session: SessionDep, conversation_id: ConversationId, for_update: bool = False) -> Conversation:
    conversation = await session.get(Conversation, conversation_id, with_for_update=for_update)
    if conversation is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no conversation {conversation_id}")
    return conversation


async def _claim(session: SessionDep, conversation: Conversation, agent: Agent, force: bool) -> Ticket:
    if conversation.status == "closed":
        raise HTTPException(status.HTTP_409_CONFLICT, "the conversation is closed")
    ticket = await handoff.live_ticket(session, conversation.id)
    now = datetime.now(UTC)
    if ticket is not None and ticket.agent_id not in (None, agent.id) and not force:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"agent {ticket.agent_id} has this conversation; pass force=true to take it over")
    if ticket is None:
        ticket = Ticket(conversation_id=conversation.id, contact_id=conversation.contact_id,
                        department=agent.department, priority=conversation.priority or 3,
                        reasons=["claimed_by_agent"])
        session.add(ticket)
    if ticket.agent_id != agent.id:
        ticket.agent_id, ticket.status, ticket.assigned_at = agent.id, "assigned", now
        agent.last_assigned_at = now
    conversation.bot_paused, conversation.status, conversation.assigned_agent = True, "human", agent.name
    await session.flush()
    return ticket


async def _template_payload(session: SessionDep, conversation: Conversation, body: AgentMessageIn
                            ) -> tuple[dict, str]:
    assert body.template is not None
    if conversation.channel != "whatsapp":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "templates are a WhatsApp feature")
    account = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == "whatsapp", ChannelAccount.external_id == conversation.account_external_id))).first()
    template = (await approved_template(session, account.business_account_id, body.template.name,
                                        body.template.language)
                if account is not None and account.business_account_id else None)
    if template is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"no approved template {body.template.name!r} ({body.template.language}) for this "
                            "number: run `crm templates sync`")
    if len(body.template.parameters) != template.parameter_count:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"template {template.name!r} takes {template.parameter_count} parameters, "
                            f"got {len(body.template.parameters)}")
    contact = await session.get(Contact, conversation.contact_id)
    if contact is not None and contact.opted_out and (template.category or "").upper() == "MARKETING":
        raise HTTPException(status.HTTP_409_CONFLICT, "the contact opted out: no MARKETING templates")
    params = list(body.template.parameters)
    try:
        return (whatsapp_template_message(template.name, template.language, params),
                render_template_text(template, params))
    except (TemplateParameterError, ValueError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"template parameters: {exc}") from exc


async def _view(session: SessionDep, conversation: Conversation) -> ConversationOut:
    contact = await session.get(Contact, conversation.contact_id)
    ticket = (await session.scalars(select(Ticket).where(Ticket.conversation_id == conversation.id)
                                    .order_by(Ticket.id.desc()).limit(1))).first()
    now = datetime.now(UTC)
    return ConversationOut(
        id=conversation.id, contact_id=conversation.contact_id,
        contact_name=contact.display_name if contact else None, channel=conversation.channel,
        status=conversation.status, bot_paused=conversation.bot_paused, assigned_agent=conversation.assigned_agent,
        priority=conversation.priority, last_intent=conversation.last_intent,
        avg_sentiment=conversation.avg_sentiment, last_message_at=conversation.last_message_at,
        window_open=window_open(conversation.last_inbound_at, now),
        window_closes_at=window_closes_at(conversation.last_inbound_at), close_reason=conversation.close_reason,
        csat_score=conversation.csat_score, ticket=TicketOut.model_validate(ticket) if ticket else None)
