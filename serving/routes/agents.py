"""Agents: the people tickets are assigned to (department, skills, capacity, availability). Admin keys manage
them; an agent's own key may switch their availability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.db.models import Agent, Ticket
from serving.deps import AdminKey, AgentKey, ReadKey, SessionDep
from serving.schemas.conversations import AgentIn, AgentOut, AvailabilityIn

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", response_model=list[AgentOut])
async def list_agents(session: SessionDep, _: ReadKey) -> list[AgentOut]:
    load = (select(Ticket.agent_id, func.count().label("n")).where(Ticket.status == "assigned")
            .group_by(Ticket.agent_id).subquery())
    rows = (await session.execute(select(Agent, func.coalesce(load.c.n, 0)).outerjoin(load, load.c.agent_id == Agent.id)
                                  .order_by(Agent.id))).all()
    return [AgentOut.model_validate(agent).model_copy(update={"live_tickets": n}) for agent, n in rows]


@router.post("", response_model=AgentOut, status_code=status.HTTP_201_CREATED)
async def create_agent(body: AgentIn, session: SessionDep, _: AdminKey) -> AgentOut:
    agent = Agent(**body.model_dump())
    session.add(agent)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"an agent with email {body.email!r} exists") from exc
    return AgentOut.model_validate(agent)


@router.post("/{agent_id}/availability", response_model=AgentOut)
async def set_availability(agent_id: Annotated[int, Path(ge=1, le=2**63 - 1)], body: AvailabilityIn, session: SessionDep, principal: AgentKey) -> AgentOut:
    if principal.scope != "admin" and principal.agent_id != agent_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "an agent key may change only its own agent")
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}")
    agent.available = body.available
    await session.commit()
    return AgentOut.model_validate(agent)
