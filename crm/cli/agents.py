"""`crm agents`: the people escalated conversations are assigned to."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from crm.cli.db import sync_session

app = typer.Typer(help="Human agents: department, skills, capacity and availability.", no_args_is_help=True)
console = Console()
DEPARTMENTS = ("sales_team", "retention_specialist", "support_team")


@app.command()
def add(
    name: str = typer.Argument(..., help="The agent's name, as customers will read it."),
    department: str = typer.Option(..., help="sales_team, retention_specialist or support_team."),
    email: str | None = typer.Option(None),
    skill: list[str] = typer.Option([], help="A skill (repeat the option for more)."),
    capacity: int = typer.Option(5, min=0, help="Live tickets they take at once."),
) -> None:
    """Add an agent and print its id (give them a key with `crm apikey create --scope agent --agent ID`)."""
    from sqlalchemy.exc import IntegrityError

    from crm.db.models import Agent

    if department not in DEPARTMENTS:
        console.print(f"[red]unknown department {department!r}[/red]: use one of {', '.join(DEPARTMENTS)}")
        raise typer.Exit(2)
    with sync_session() as session:
        agent = Agent(name=name, department=department, email=email, skills=list(skill), capacity=capacity)
        session.add(agent)
        try:
            session.commit()
        except IntegrityError:
            console.print(f"[red]an agent with email {email!r} already exists[/red]")
            raise typer.Exit(1) from None
        console.print(f"added agent [bold]{agent.id}[/bold]: {name} ({department}, capacity {capacity})",
                      highlight=False)


@app.command("list")
def list_agents() -> None:
    """Agents with their live tickets."""
    from sqlalchemy import func, select

    from crm.db.models import Agent, Ticket

    table = Table("id", "name", "department", "skills", "capacity", "live tickets", "available")
    with sync_session() as session:
        load = dict(session.execute(select(Ticket.agent_id, func.count()).where(Ticket.status == "assigned")
                                    .group_by(Ticket.agent_id)).all())
        for agent in session.scalars(select(Agent).order_by(Agent.id)):
            table.add_row(str(agent.id), agent.name, agent.department, ", ".join(agent.skills or []),
                          str(agent.capacity), str(load.get(agent.id, 0)), "yes" if agent.available else "no")
    console.print(table)


@app.command()
def availability(agent_id: int, available: bool = typer.Option(..., "--available/--away")) -> None:
    """Mark an agent available for new tickets, or away."""
    from crm.db.models import Agent

    with sync_session() as session:
        agent = session.get(Agent, agent_id)
        if agent is None:
            console.print(f"[red]no agent {agent_id}[/red]")
            raise typer.Exit(1)
        agent.available = available
        session.commit()
    console.print(f"agent {agent_id} is now {'available' if available else 'away'}")
