"""An agent's replies into a ticket, and the resolution that feeds learning and knowledge."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from supportgraph.agents.redaction import redact
from supportgraph.agents.workflow import ConflictError, get_agent
from supportgraph.db.engine import session_scope
from supportgraph.db.models import (
    CustomerMessage,
    ResolutionFeedback,
    SupportTicket,
    TicketStatus,
    utcnow,
)
from supportgraph.support import NotFoundError, SupportService

HUMAN_REQUEST = "human_agent"


class CorrectionType(StrEnum):
    """What the agent had to change in what the AI did."""

    NONE = "none"
    INTENT = "intent"
    ANSWER = "answer"
    ACTION = "action"
    UNNECESSARY_ESCALATION = "unnecessary_escalation"


def held_ticket(session: Session, *, agent_id: str, ticket_id: str) -> SupportTicket:
    """The ticket, if this agent holds it.

    Raises:
        NotFoundError: Unknown agent or ticket.
        ConflictError: The ticket is not assigned, or is assigned to someone else.

    """
    get_agent(session, agent_id)
    ticket = session.get(SupportTicket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    if ticket.status != TicketStatus.ASSIGNED:
        raise ConflictError(f"ticket {ticket_id} is {ticket.status.value}: claim it first")
    if ticket.assigned_agent_id != agent_id:
        raise ConflictError(f"ticket {ticket_id} is assigned to another agent")
    return ticket


def reply(support: SupportService, *, agent_id: str, ticket_id: str, text: str) -> CustomerMessage:
    """Post the agent's reply into the ticket and the conversation the graph holds.

    The stored message comes first: it is the record the customer reads.
    """
    with support.ticket_lock(ticket_id):
        with session_scope(support.services.engine) as session:
            ticket = held_ticket(session, agent_id=agent_id, ticket_id=ticket_id)
            message = CustomerMessage(
                ticket_id=ticket_id,
                turn=ticket.turn_count,
                role="human_agent",
                content=text,
                channel=ticket.channel,
            )
            ticket.updated_at = utcnow()
            session.add_all([message, ticket])
        line = {"role": "human_agent", "content": text, "turn": message.turn}
        support.graph.update_state(
            support.config(ticket_id), {"transcript": [line]}, as_node="handoff"
        )
    return message


def feedback_text(packet: dict[str, Any], correct_intent: str) -> str | None:
    """The customer's question the learning loop should learn the correct intent from.

    The packet's open question, unless all it did was ask for a person: "let me talk to a
    human" labelled with the real subject would teach the classifier the wrong thing, so the
    customer's previous message is used then (or none).
    """
    question = packet.get("open_question")
    intents = [view.get("intent") for view in packet.get("intents", [])]
    if correct_intent == HUMAN_REQUEST or intents != [HUMAN_REQUEST]:
        return str(question) if question else None
    earlier = [
        line["content"]
        for line in packet.get("transcript", [])
        if line.get("role") == "customer" and line.get("content") != question
    ]
    return str(earlier[-1]) if earlier else None


def knowledge_text(question: str | None, answer: str, names: list[str]) -> tuple[str, str]:
    """Title and text of a resolution for the knowledge base, without personal data."""
    asked = redact(question or "", names=names).strip()
    title = f"Resolved: {asked[:80]}" if asked else "Resolved ticket"
    body = f"Customer asked: {asked}\nResolution: {redact(answer, names=names)}".strip()
    return title, body


def knowledge_id(feedback: ResolutionFeedback) -> str:
    """The id of a resolution in the knowledge base: one entry per resolution of a ticket."""
    return f"{feedback.ticket_id}#{feedback.id}"


def _finish(session: Session, *, agent_id: str, ticket_id: str) -> None:
    """Move the agent's assigned ticket to resolved, once (a second resolve finds nothing)."""
    now = utcnow()
    result = session.execute(
        update(SupportTicket)
        .where(
            col(SupportTicket.id) == ticket_id,
            col(SupportTicket.status) == TicketStatus.ASSIGNED,
            col(SupportTicket.assigned_agent_id) == agent_id,
        )
        .values(status=TicketStatus.RESOLVED, resolved_by="human", resolved_at=now, updated_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(f"ticket {ticket_id} changed while it was being resolved; reload it")


def resolve(
    support: SupportService,
    *,
    agent_id: str,
    ticket_id: str,
    correct_intent: str,
    answer: str,
    correction_type: CorrectionType,
) -> ResolutionFeedback:
    """Resolve the agent's ticket: feedback for the learning loop, the answer for the KB.

    The ticket, the feedback and the knowledge entry change together: if indexing fails the
    transaction rolls back and the agent can resolve again (the entry's id is stable).
    """
    services = support.services
    with support.ticket_lock(ticket_id), session_scope(services.engine) as session:
        ticket = held_ticket(session, agent_id=agent_id, ticket_id=ticket_id)
        packet = dict(ticket.handoff_summary or {})
        feedback = ResolutionFeedback(
            ticket_id=ticket_id,
            agent_id=agent_id,
            message_text=feedback_text(packet, correct_intent),
            predicted_intent=ticket.primary_intent,
            correct_intent=correct_intent,
            corrected_answer=answer,
            correction_type=correction_type.value,
        )
        _finish(session, agent_id=agent_id, ticket_id=ticket_id)
        session.add(feedback)
        customer = services.backend.get_customer(ticket.customer_id)
        names = [customer.name] if customer else []
        question = feedback.message_text or packet.get("open_question")
        title, text = knowledge_text(question, answer, names)
        services.knowledge.add_resolution(knowledge_id(feedback), title, text)
    return feedback
