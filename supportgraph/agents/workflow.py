"""Registering agents and assigning escalated tickets to them, within their capacity."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from policies.queue import AgentSlot, can_take, free_agents
from supportgraph.agents.models import SupportAgent
from supportgraph.agents.queue import agent_loads, snapshot
from supportgraph.db.engine import session_scope
from supportgraph.db.models import SupportTicket, TicketStatus, utcnow
from supportgraph.services import Services
from supportgraph.support import NotFoundError

CLAIM_ATTEMPTS = 5  # tickets tried when others claim the best ones first


class ConflictError(RuntimeError):
    """The request contradicts the ticket's or the agent's current state."""


def register_agent(
    engine: Engine,
    *,
    agent_id: str,
    name: str,
    skills: Sequence[str],
    capacity: int,
    active: bool = True,
) -> SupportAgent:
    """Create an agent, or update the one with this id."""
    with session_scope(engine) as session:
        agent = session.get(SupportAgent, agent_id) or SupportAgent(id=agent_id, name=name)
        agent.name = name
        agent.skills = list(dict.fromkeys(skills))
        agent.capacity = capacity
        agent.active = active
        agent.updated_at = utcnow()
        session.add(agent)
        return agent


def get_agent(session: Session, agent_id: str) -> SupportAgent:
    """The agent, or NotFoundError."""
    agent = session.get(SupportAgent, agent_id)
    if agent is None:
        raise NotFoundError(f"agent {agent_id} not found")
    return agent


def agent_load(session: Session, agent_id: str) -> int:
    """How many tickets the agent holds now."""
    return int(
        session.exec(
            select(func.count())
            .select_from(SupportTicket)
            .where(
                SupportTicket.assigned_agent_id == agent_id,
                SupportTicket.status == TicketStatus.ASSIGNED,
            )
        ).one()
    )


def _ready_agent(session: Session, agent_id: str) -> SupportAgent:
    agent = get_agent(session, agent_id)
    if not agent.active:
        raise ConflictError(f"agent {agent_id} is not active")
    load = agent_load(session, agent_id)
    if load >= agent.capacity:
        raise ConflictError(
            f"agent {agent_id} is at capacity ({load} of {agent.capacity} tickets open)"
        )
    return agent


def _try_claim(engine: Engine, agent: SupportAgent, ticket_id: str) -> bool:
    """Assign the ticket if it is still escalated and the agent still has room, atomically."""
    held = (
        select(func.count())
        .select_from(SupportTicket)
        .where(
            SupportTicket.assigned_agent_id == agent.id,
            SupportTicket.status == TicketStatus.ASSIGNED,
        )
        .scalar_subquery()
    )
    now = utcnow()
    with session_scope(engine) as session:
        # Locking the agent's row serializes their claims, so the count below is current
        # (PostgreSQL; SQLite serializes writers anyway and ignores the lock).
        session.exec(select(SupportAgent).where(SupportAgent.id == agent.id).with_for_update())
        result = session.execute(
            update(SupportTicket)
            .where(
                col(SupportTicket.id) == ticket_id,
                col(SupportTicket.status) == TicketStatus.ESCALATED,
                held < agent.capacity,
            )
            .values(
                status=TicketStatus.ASSIGNED,
                assigned_agent_id=agent.id,
                assigned_at=now,
                updated_at=now,
            )
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _why_not_claimed(session: Session, agent: SupportAgent, ticket_id: str) -> Exception:
    ticket = session.get(SupportTicket, ticket_id)
    if ticket is None:
        return NotFoundError(f"ticket {ticket_id} not found")
    if ticket.status == TicketStatus.ASSIGNED:
        holder = "you" if ticket.assigned_agent_id == agent.id else "another agent"
        return ConflictError(f"ticket {ticket_id} is already assigned to {holder}")
    if ticket.status != TicketStatus.ESCALATED:
        return ConflictError(f"ticket {ticket_id} is {ticket.status.value}, not escalated")
    return ConflictError(f"agent {agent.id} is at capacity ({agent.capacity} tickets open)")


def assign_to_free_agent(services: Services, ticket_id: str) -> str | None:
    """Give an escalated ticket to the least loaded agent who can take it; None if nobody can."""
    with Session(services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        if ticket is None or ticket.status != TicketStatus.ESCALATED:
            return ticket.assigned_agent_id if ticket else None
        loads = agent_loads(session)
        agents = {
            agent.id: agent
            for agent in session.exec(select(SupportAgent).where(col(SupportAgent.active)))
        }
    slots = [
        AgentSlot(agent.id, tuple(agent.skills), agent.capacity, loads.get(agent.id, 0))
        for agent in agents.values()
    ]
    for agent_id in free_agents(slots, ticket.primary_intent):
        if _try_claim(services.engine, agents[agent_id], ticket_id):
            return agent_id
    return None


def claim(services: Services, *, agent_id: str, ticket_id: str | None = None) -> SupportTicket:
    """Assign a ticket to the agent: the named one, or the best queued one within their skills.

    A named ticket may lie outside the agent's skills (they chose it); the best one may not.

    Raises:
        NotFoundError: Unknown agent or ticket, or no queued ticket the agent can take.
        ConflictError: Inactive agent, agent at capacity, or a ticket that is not escalated.

    """
    with Session(services.engine) as session:
        agent = _ready_agent(session, agent_id)
    if ticket_id is not None:
        candidates = [ticket_id]
    else:
        candidates = [
            entry.item.ticket_id
            for entry in snapshot(services)
            if can_take(agent.skills, entry.item.intent)
        ][:CLAIM_ATTEMPTS]
    for candidate in candidates:
        if _try_claim(services.engine, agent, candidate):
            with Session(services.engine) as session:
                claimed = session.get(SupportTicket, candidate)
                assert claimed is not None
                return claimed
    with Session(services.engine) as session:
        if ticket_id is not None:
            raise _why_not_claimed(session, agent, ticket_id)
        if candidates:
            raise ConflictError("the tickets this agent can take were claimed by others; retry")
        raise NotFoundError(f"no escalated ticket matches the skills of agent {agent_id}")
