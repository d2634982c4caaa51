"""HTTP routes of the human-agent workflow, and the customer's view of a waiting ticket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from sqlmodel import Session, col, select

from policies.access import check_acts_as_agent, check_manages_agents
from policies.queue import can_take
from supportgraph.agents import queue as waiting
from supportgraph.agents.approvals import Verdict, decide
from supportgraph.agents.models import SupportAgent
from supportgraph.agents.resolution import knowledge_id, reply, resolve
from supportgraph.agents.schemas import (
    ActionStateOut,
    AgentIn,
    AgentOut,
    ApprovalIn,
    ApprovalOut,
    ClaimIn,
    ClaimOut,
    ConversationOut,
    MessageOut,
    QueueEntryOut,
    ReplyIn,
    ResolveIn,
    ResolveOut,
    WaitOut,
)
from supportgraph.agents.workflow import (
    ConflictError,
    agent_load,
    claim,
    get_agent,
    register_agent,
)
from supportgraph.api_models import ID_PATTERN
from supportgraph.auth.audit import Actor, record_access
from supportgraph.auth.guard import allowed, authorize_ticket
from supportgraph.auth.http import Caller
from supportgraph.auth.principals import Principal
from supportgraph.db.models import ActionExecution, CustomerMessage, SupportTicket, TicketStatus
from supportgraph.http_errors import error_responses, invalid
from supportgraph.services import Services
from supportgraph.support import NotFoundError, SupportService

agents = APIRouter(prefix="/v1/agents", tags=["agents"])
customers = APIRouter(prefix="/v1/support", tags=["support"])
router = APIRouter()

AgentId = Annotated[str, Path(pattern=ID_PATTERN)]
TicketId = Annotated[str, Path(pattern=ID_PATTERN)]
ActionId = Annotated[str, Path(pattern=ID_PATTERN)]
OPERATION_OF = {Verdict.APPROVED: "approve", Verdict.REJECTED: "reject"}  # in the audit


def _support(request: Request) -> SupportService:
    support: SupportService = request.app.state.support
    return support


Support = Annotated[SupportService, Depends(_support)]


@contextmanager
def _http_errors() -> Iterator[None]:
    """Unknown things are 404, requests that contradict the current state 409."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from exc


def as_agent(caller: Principal, agent_id: str | None) -> Actor:
    """The caller acting as ``agent_id``: themselves, or anyone for an admin."""
    return allowed(check_acts_as_agent(caller, agent_id), caller)


def _agent_out(session: Session, agent: SupportAgent) -> AgentOut:
    return AgentOut(
        id=agent.id,
        name=agent.name,
        skills=agent.skills,
        capacity=agent.capacity,
        active=agent.active,
        open_tickets=agent_load(session, agent.id),
    )


@agents.get("/queue", response_model=list[QueueEntryOut], responses=error_responses(404))
def get_queue(
    support: Support,
    caller: Caller,
    agent_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> list[QueueEntryOut]:
    """The escalated tickets best first; with agent_id, only those the agent can take."""
    as_agent(caller, agent_id)
    with _http_errors():
        return queue_for(support.services, agent_id)


def queue_for(services: Services, agent_id: str | None) -> list[QueueEntryOut]:
    """The queue best first; with agent_id, only the tickets the agent can take.

    Raises:
        NotFoundError: no such agent.

    """
    with Session(services.engine) as session:
        skills = get_agent(session, agent_id).skills if agent_id else None
        entries = waiting.snapshot(services)
        ids = [entry.item.ticket_id for entry in entries]
        found = session.exec(select(SupportTicket).where(col(SupportTicket.id).in_(ids)))
        tickets = {ticket.id: ticket for ticket in found}
    return [
        _entry_out(entry, tickets[entry.item.ticket_id])
        for entry in entries
        if entry.item.ticket_id in tickets
        and (skills is None or can_take(skills, entry.item.intent))
    ]


def _entry_out(entry: waiting.QueueEntry, ticket: SupportTicket) -> QueueEntryOut:
    packet = ticket.handoff_summary or {}
    return QueueEntryOut(
        **waiting.wait_view(entry),
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        primary_intent=ticket.primary_intent,
        priority=entry.priority.score,
        priority_terms=entry.priority.contributions,
        waiting_s=round(entry.item.waited_s, 1),
        order_value=str(entry.item.order_value),
        escalated_at=ticket.escalated_at,
        reason=ticket.escalation_reason or packet.get("reason"),
        summary=packet.get("summary"),
        open_question=packet.get("open_question"),
        suggested_next_step=packet.get("suggested_next_step"),
    )


@agents.put("/{agent_id}", response_model=AgentOut, responses=error_responses(400))
def put_agent(agent_id: AgentId, body: AgentIn, support: Support, caller: Caller) -> AgentOut:
    """Register an agent, or update their name, skills, capacity or availability (admin)."""
    allowed(check_manages_agents(caller), caller)
    if agent_id == "queue":
        raise invalid(
            ("path", "agent_id"), "'queue' is reserved and cannot be an agent id", agent_id
        )
    agent = register_agent(support.services.engine, agent_id=agent_id, **body.model_dump())
    with Session(support.services.engine) as session:
        return _agent_out(session, agent)


@agents.get("/{agent_id}", response_model=AgentOut, responses=error_responses(404))
def read_agent(agent_id: AgentId, support: Support, caller: Caller) -> AgentOut:
    """An agent and their current load."""
    as_agent(caller, agent_id)
    with _http_errors(), Session(support.services.engine) as session:
        return _agent_out(session, get_agent(session, agent_id))


@agents.post("/{agent_id}/claim", response_model=ClaimOut, responses=error_responses(400, 404, 409))
def post_claim(
    agent_id: AgentId, support: Support, caller: Caller, body: ClaimIn | None = None
) -> ClaimOut:
    """Take the named ticket, or (with no body) the best queued one within the agent's skills."""
    actor = as_agent(caller, agent_id)
    ticket_id = body.ticket_id if body else None
    with _http_errors():
        ticket = claim(support.services, agent_id=agent_id, ticket_id=ticket_id)
    assert ticket.assigned_agent_id is not None and ticket.assigned_at is not None
    record_access(support.services.engine, actor, ticket.id, "claim")
    return ClaimOut(
        ticket_id=ticket.id,
        status=ticket.status.value,
        assigned_agent_id=ticket.assigned_agent_id,
        assigned_at=ticket.assigned_at,
        handoff=ticket.handoff_summary,
    )


@agents.post(
    "/{agent_id}/tickets/{ticket_id}/reply",
    response_model=MessageOut,
    responses=error_responses(400, 404, 409),
)
def post_reply(
    agent_id: AgentId, ticket_id: TicketId, body: ReplyIn, support: Support, caller: Caller
) -> MessageOut:
    """Answer the customer in their conversation."""
    actor = as_agent(caller, agent_id)
    with _http_errors():
        message = reply(support, agent_id=agent_id, ticket_id=ticket_id, text=body.message)
    record_access(support.services.engine, actor, ticket_id, "reply")
    return MessageOut.model_validate(message, from_attributes=True)


@agents.post(
    "/{agent_id}/tickets/{ticket_id}/resolve",
    response_model=ResolveOut,
    responses=error_responses(400, 404, 409),
)
def post_resolve(
    agent_id: AgentId, ticket_id: TicketId, body: ResolveIn, support: Support, caller: Caller
) -> ResolveOut:
    """Close the ticket with the correct intent, the final answer and what had to be corrected."""
    actor = as_agent(caller, agent_id)
    with _http_errors():
        feedback = resolve(
            support,
            agent_id=agent_id,
            ticket_id=ticket_id,
            correct_intent=body.correct_intent,
            answer=body.answer,
            correction_type=body.correction_type,
        )
    record_access(support.services.engine, actor, ticket_id, "resolve")
    with Session(support.services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
    assert ticket is not None and ticket.resolved_at is not None
    return ResolveOut(
        ticket_id=ticket_id,
        status=ticket.status.value,
        resolved_at=ticket.resolved_at,
        feedback_id=feedback.id,
        knowledge_id=knowledge_id(feedback),
    )


def _decided(
    verdict: Verdict,
    ids: tuple[str, str, str],
    body: ApprovalIn | None,
    support: SupportService,
    caller: Principal,
) -> ApprovalOut:
    """Record the agent's verdict on a proposal waiting for a person, and audit it."""
    agent_id, ticket_id, action_id = ids
    actor = as_agent(caller, agent_id)
    with _http_errors():
        done = decide(
            support,
            agent_id=agent_id,
            ticket_id=ticket_id,
            action_id=action_id,
            verdict=verdict,
            note=body.note if body else None,
        )
    record_access(support.services.engine, actor, ticket_id, OPERATION_OF[verdict])
    return ApprovalOut(
        ticket_id=ticket_id,
        decision=done.verdict.value,
        decided_by=done.decided_by,
        note=done.note,
        reason=done.action.error or done.action.policy_reason,
        action=ActionStateOut.model_validate(done.action, from_attributes=True),
        told_customer=done.told,
    )


@agents.post(
    "/{agent_id}/tickets/{ticket_id}/actions/{action_id}/approve",
    response_model=ApprovalOut,
    responses=error_responses(400, 404, 409),
)
def post_approve(
    agent_id: AgentId,
    ticket_id: TicketId,
    action_id: ActionId,
    support: Support,
    caller: Caller,
    body: ApprovalIn | None = None,
) -> ApprovalOut:
    """Approve a proposal that policy left for a person: checked again, then performed once."""
    return _decided(Verdict.APPROVED, (agent_id, ticket_id, action_id), body, support, caller)


@agents.post(
    "/{agent_id}/tickets/{ticket_id}/actions/{action_id}/reject",
    response_model=ApprovalOut,
    responses=error_responses(400, 404, 409),
)
def post_reject(
    agent_id: AgentId,
    ticket_id: TicketId,
    action_id: ActionId,
    support: Support,
    caller: Caller,
    body: ApprovalIn | None = None,
) -> ApprovalOut:
    """Reject a proposal that policy left for a person: nothing is performed."""
    return _decided(Verdict.REJECTED, (agent_id, ticket_id, action_id), body, support, caller)


@customers.get(
    "/tickets/{ticket_id}/messages", response_model=ConversationOut, responses=error_responses(404)
)
def get_messages(
    ticket_id: TicketId,
    support: Support,
    caller: Caller,
    after_turn: Annotated[int, Query(ge=0, description="only messages of later turns")] = 0,
) -> ConversationOut:
    """The conversation as the customer sees it, with the queue position while waiting."""
    with _http_errors():
        actor = authorize_ticket(support.services, caller, ticket_id)
        view = conversation(support.services, ticket_id, after_turn=after_turn)
    record_access(support.services.engine, actor, ticket_id, "read:messages")
    return view


def conversation(services: Services, ticket_id: str, *, after_turn: int = 0) -> ConversationOut:
    """The conversation as its customer sees it, with the queue position while waiting.

    Raises:
        NotFoundError: no such ticket.

    """
    with Session(services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"ticket {ticket_id} not found")
        messages = session.exec(
            select(CustomerMessage)
            .where(CustomerMessage.ticket_id == ticket_id, CustomerMessage.turn > after_turn)
            .order_by(col(CustomerMessage.created_at), col(CustomerMessage.turn))
        ).all()
        proposals = session.exec(
            select(ActionExecution)
            .where(ActionExecution.ticket_id == ticket_id)
            .order_by(col(ActionExecution.created_at))
        ).all()
    queue = None
    if ticket.status == TicketStatus.ESCALATED:
        entry = next((e for e in waiting.snapshot(services) if e.item.ticket_id == ticket_id), None)
        queue = WaitOut(**waiting.wait_view(entry)) if entry else None
    return ConversationOut(
        ticket_id=ticket_id,
        status=ticket.status.value,
        assigned_agent_id=ticket.assigned_agent_id,
        csat_score=ticket.csat_score,
        messages=[MessageOut.model_validate(m, from_attributes=True) for m in messages],
        actions=[ActionStateOut.model_validate(a, from_attributes=True) for a in proposals],
        queue=queue,
    )


router.include_router(agents)
router.include_router(customers)
