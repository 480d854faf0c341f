"""Handing a conversation to a person (flow 7, the I/O side of escalation.py): a ticket with its priority and a
summary for the agent, the least-loaded available agent of the department, the bot paused, the customer told who
will answer and roughly when (business hours aware), and an automation event so n8n can notify the team.

Also the reverse: a person handing the conversation back to the bot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import array as sql_array
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.db.models import Agent, AutomationEvent, Contact, Conversation, Message, Ticket
from crm.db.models.support import TICKET_LIVE_STATUSES
from crm.settings import Settings
from serving.services.business_hours import is_open, parse_business_hours, when_text
from serving.services.outbox import queue_message

log = structlog.get_logger(__name__)

DEPARTMENT_NAMES = {
    "es": {"sales_team": "ventas", "retention_specialist": "atención al cliente", "support_team": "soporte"},
    "en": {"sales_team": "sales", "retention_specialist": "customer care", "support_team": "support"},
}
SUMMARY_MESSAGES = 6
CLEARABLE_REASONS = {"vip_customer", "high_value_transaction", "negative_sentiment"}


@dataclass
class Handoff:
    ticket: Ticket
    agent: Agent | None
    created: bool  # False: the conversation already had a live ticket (nothing was announced again)


async def escalate(session: AsyncSession, settings: Settings, *, conversation: Conversation, contact: Contact,
                   department: str, priority: int, reasons: list[str], trigger: Message | None,
                   language: str, policies: dict, now: datetime | None = None) -> Handoff:
    """Open (or reuse) the conversation's ticket, assign an agent, pause the bot and tell the customer."""
    now = now or datetime.now(UTC)
    live = await live_ticket(session, conversation.id)
    if live is not None:
        return Handoff(live, await session.get(Agent, live.agent_id) if live.agent_id else None, created=False)
    summary = await summarize(session, conversation, contact, reasons, department)
    ticket_id = (await session.execute(
        insert(Ticket).values(conversation_id=conversation.id, contact_id=contact.id, department=department,
                              priority=priority, reasons=reasons, summary=summary,
                              trigger_message_id=trigger.id if trigger is not None else None)
        .on_conflict_do_nothing(index_elements=["conversation_id"],
                                index_where=Ticket.status.in_(TICKET_LIVE_STATUSES))
        .returning(Ticket.id))).scalar_one_or_none()
    if ticket_id is None:  # a concurrent escalation won
        live = await live_ticket(session, conversation.id)
        assert live is not None
        return Handoff(live, None, created=False)
    ticket = await session.get(Ticket, ticket_id)
    assert ticket is not None
    state = conversation.agent_state or {}
    topics = [*(state.get("need") or []), *([conversation.last_intent] if conversation.last_intent else [])]
    agent = await assign_agent(session, ticket, now, language=language, topics=topics)
    conversation.bot_paused = True
    conversation.status = "human" if agent is not None else "pending_human"
    conversation.assigned_agent = agent.name if agent is not None else None
    conversation.priority = max(conversation.priority or 0, priority)
    local_now = now.astimezone(ZoneInfo(settings.business_timezone))
    schedule = parse_business_hours(policies.get("business_hours"))
    notice = handoff_notice(language, department, agent.name if agent else None,
                            when_text(schedule, local_now, language), in_hours=is_open(schedule, local_now))
    if trigger is not None:
        await queue_message(session, conversation=conversation, contact_id=contact.id, key=f"handoff:{ticket.id}",
                            text_body=notice, in_reply_to=trigger, recipient=trigger.counterpart_external_id)
    session.add(AutomationEvent(
        event_type="conversation.escalated", subject_type="ticket", subject_id=str(ticket.id),
        idempotency_key=f"conversation.escalated:{ticket.id}", target="n8n",
        payload={"ticket_id": ticket.id, "conversation_id": conversation.id, "contact_id": contact.id,
                 "department": department, "priority": priority, "reasons": reasons,
                 "agent_id": agent.id if agent else None, "agent_name": agent.name if agent else None,
                 "channel": conversation.channel, "summary": summary}))
    log.info("handoff.escalated", ticket_id=ticket.id, conversation_id=conversation.id, department=department,
             priority=priority, reasons=reasons, agent_id=agent.id if agent else None)
    return Handoff(ticket, agent, created=True)


async def live_ticket(session: AsyncSession, conversation_id: int) -> Ticket | None:
    return (await session.scalars(select(Ticket).where(
        Ticket.conversation_id == conversation_id, Ticket.status.in_(TICKET_LIVE_STATUSES)))).first()


async def assign_agent(session: AsyncSession, ticket: Ticket, now: datetime, language: str | None = None,
                       topics: list[str] | None = None) -> Agent | None:
    """The available agent of the ticket's department with spare capacity: one who speaks the customer's
    language first, then one whose skills match what the customer talked about, then the fewest live tickets
    (ties: the one assigned longest ago, i.e. round-robin). None when nobody is free: the ticket waits, open."""
    load = (select(func.count(Ticket.id)).where(Ticket.agent_id == Agent.id, Ticket.status == "assigned")
            .correlate(Agent).scalar_subquery())
    # A constant in ORDER BY is an error in PostgreSQL: criteria without an input are left out, not made constant.
    preferences = []
    if language:
        preferences.append(Agent.languages.contains([language]).desc())
    if topics:
        preferences.append(Agent.skills.op("?|")(sql_array([t.lower() for t in topics])).desc())
    # Waits for a concurrent assignment to finish rather than skipping the best agent; capacity is re-checked.
    agent = (await session.scalars(
        select(Agent).where(Agent.department == ticket.department, Agent.available.is_(True), load < Agent.capacity)
        .order_by(*preferences, load, Agent.last_assigned_at.asc().nulls_first(), Agent.id)
        .limit(1).with_for_update(of=Agent))).first()
    if agent is None:
        log.warning("handoff.no_agent_available", ticket_id=ticket.id, department=ticket.department)
        return None
    ticket.agent_id, ticket.status, ticket.assigned_at = agent.id, "assigned", now
    agent.last_assigned_at = now
    return agent


def handoff_notice(language: str, department: str, agent_name: str | None, when: str, in_hours: bool) -> str:
    es = language != "en"
    team = DEPARTMENT_NAMES["es" if es else "en"][department]
    first = agent_name.split(" ")[0] if agent_name else None
    if es:
        who = f"{first}, de nuestro equipo de {team}," if first else f"una persona de nuestro equipo de {team}"
        hours = "" if in_hours else " (estamos fuera de horario)"
        return f"Te comunico con {who} que te responderá {when}{hours}. Ya tiene el resumen de tu caso 🙌"
    who = f"{first} from our {team} team" if first else f"someone from our {team} team"
    hours = "" if in_hours else " (we are outside business hours)"
    return f"I'm passing you to {who}, who will reply {when}{hours}. They already have a summary of your case 🙌"


async def summarize(session: AsyncSession, conversation: Conversation, contact: Contact, reasons: list[str],
                    department: str) -> str:
    """What the agent reads first: who, why, the signals, and the last few messages."""
    recent = list(reversed((await session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.text.is_not(None))
        .order_by(Message.sent_at.desc().nulls_last(), Message.id.desc()).limit(SUMMARY_MESSAGES))).all()))
    name = contact.display_name or contact.first_name or f"contact {contact.id}"
    lines = [
        f"Customer: {name} on {conversation.channel}; language {contact.language or '?'}; "
        f"lead {contact.lead_score if contact.lead_score is not None else '?'} ({contact.lead_category or '?'})",
        f"Escalated to {department} because: {', '.join(reasons) or 'routing'}",
        f"Last intent {conversation.last_intent or '?'}; average sentiment "
        f"{conversation.avg_sentiment if conversation.avg_sentiment is not None else '?'} over "
        f"{conversation.analyzed_count} messages; bot failures {conversation.bot_failures}",
    ]
    state = conversation.agent_state or {}
    if state.get("selected") or state.get("recommended"):
        lines.append(f"Products discussed: {', '.join(filter(None, [state.get('selected'), *state.get('recommended', [])]))}")
    lines.append("Recent messages:")
    lines += [f"  {'customer' if m.direction == 'inbound' else 'us'}: {m.text[:200]}" for m in recent]
    return "\n".join(lines)


async def hand_back(session: AsyncSession, conversation: Conversation, resolution: str = "resolved") -> None:
    """A person gives the conversation back to the bot: the ticket is resolved, the bot answers again."""
    now = datetime.now(UTC)
    await session.execute(update(Ticket).where(
        Ticket.conversation_id == conversation.id, Ticket.status.in_(TICKET_LIVE_STATUSES))
        .values(status=resolution, resolved_at=now))
    conversation.bot_paused = False
    conversation.bot_failures = 0
    conversation.status = "open"
    conversation.assigned_agent = None
    # What made it escalate and does not change by itself (a VIP stays VIP) must not bounce it straight back.
    state = dict(conversation.agent_state or {})
    state["cleared_reasons"] = sorted(set(state.get("cleared_reasons") or []) | CLEARABLE_REASONS)
    conversation.agent_state = state
