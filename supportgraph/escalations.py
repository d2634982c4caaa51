"""Escalation requested through the API (by the customer's app or an operator)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from nodes.handoff import handoff
from supportgraph.agents.queue import record_queue_inputs, snapshot, wait_view
from supportgraph.agents.workflow import assign_to_free_agent
from supportgraph.db.engine import session_scope
from supportgraph.db.models import EscalationDecision, SupportTicket, TicketStatus, utcnow
from supportgraph.support import NotFoundError, SupportService


@dataclass(frozen=True)
class Escalation:
    """A handoff made through the API: the packet, the stored decision, where it stands."""

    packet: dict[str, Any]
    escalation_id: str
    assigned_agent: str | None = None
    queue_position: int | None = None
    estimated_wait_s: float | None = None
    wait_basis: str = ""


def escalate_ticket(
    service: SupportService,
    *,
    ticket_id: str,
    customer_id: str,
    reason: str,
    source: str = "api",
    priority: int | None = None,
    signals: dict[str, Any] | None = None,
    summary: str | None = None,
) -> Escalation:
    """Hand a ticket to a person now, with the same packet the gate would have built.

    ``priority`` (1 most urgent), ``signals`` and ``summary`` are what the caller's app knew:
    the priority is stored on the ticket, the signals with the decision, the summary in the
    packet beside the one built from the conversation.
    """
    with session_scope(service.services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        if ticket is None or ticket.customer_id != customer_id:
            raise NotFoundError(f"ticket {ticket_id} not found for customer {customer_id}")
    config = service.config(ticket_id)
    state = dict(service.graph.get_state(config).values)
    packet: dict[str, Any] = dict(state.get("handoff") or {})
    if not state.get("handed_off"):
        base = {
            "ticket_id": ticket_id,
            "customer_id": customer_id,
            "message": reason,
            "turn": state.get("turn", 0),
            "transcript": state.get("transcript", []),
            "intents": state.get("intents", []),
            "entities": state.get("entities", {"order_ids": [], "amounts": [], "emails": []}),
            "actions": state.get("actions", []),
            "answer": [],
            "gate": {"reason": reason, "rule_id": f"escalate.{source}"},
        }
        update = handoff(base)  # type: ignore[arg-type]
        update["transcript"] = []
        service.graph.update_state(config, update, as_node="handoff")
        packet = update["handoff"]
    if summary:
        packet = {**packet, "caller_summary": summary}
    with session_scope(service.services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        assert ticket is not None
        if ticket.status not in (TicketStatus.ESCALATED, TicketStatus.ASSIGNED):
            ticket.status = TicketStatus.ESCALATED
            ticket.escalated_at = utcnow()
            ticket.escalation_reason = reason
            ticket.resolved_by = None
            ticket.resolved_at = None
        ticket.handoff_summary = packet
        if priority is not None:
            ticket.priority = priority
        decision = EscalationDecision(
            ticket_id=ticket_id,
            escalate=True,
            score=1.0,
            threshold=0.0,
            signals={
                "requested": {"value": 1.0, "contribution": 1.0},
                **({"caller_signals": signals} if signals else {}),
            },
            rule_id=f"escalate.{source}",
            reason=reason,
            source=source,
        )
        session.add(decision)
        record_queue_inputs(session, service.services.backend, ticket)
        session.add(ticket)
    service.metrics.escalation(decision.rule_id)
    return Escalation(packet, decision.id)


def escalate_and_assign(
    service: SupportService, *, ticket_id: str, customer_id: str, reason: str, **known: Any
) -> Escalation:
    """Escalate, give the ticket to a free agent if one can take it, and say where it stands.

    With nobody free the ticket waits in the queue: its position, and the wait estimated
    from measured handling times (None with the reason while nothing has been measured).
    """
    made = escalate_ticket(
        service, ticket_id=ticket_id, customer_id=customer_id, reason=reason, **known
    )
    agent = assign_to_free_agent(service.services, ticket_id)
    if agent is not None:
        return replace(made, assigned_agent=agent, wait_basis="assigned to an agent")
    entry = next(e for e in snapshot(service.services) if e.item.ticket_id == ticket_id)
    view = wait_view(entry)
    return replace(
        made,
        queue_position=view["position"],
        estimated_wait_s=view["estimated_wait_s"],
        wait_basis=view["basis"],
    )
