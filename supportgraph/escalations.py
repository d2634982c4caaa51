"""Escalation requested through the API (by the customer's app or an operator)."""

from __future__ import annotations

from typing import Any

from nodes.handoff import handoff
from supportgraph.agents.queue import record_queue_inputs
from supportgraph.db.engine import session_scope
from supportgraph.db.models import EscalationDecision, SupportTicket, TicketStatus, utcnow
from supportgraph.support import NotFoundError, SupportService


def escalate_ticket(
    service: SupportService, *, ticket_id: str, customer_id: str, reason: str, source: str = "api"
) -> dict[str, Any]:
    """Hand a ticket to a person now, with the same packet the gate would have built."""
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
        session.add(
            EscalationDecision(
                ticket_id=ticket_id,
                escalate=True,
                score=1.0,
                threshold=0.0,
                signals={"requested": {"value": 1.0, "contribution": 1.0}},
                rule_id=f"escalate.{source}",
                reason=reason,
                source=source,
            )
        )
        record_queue_inputs(session, service.services.backend, ticket)
        session.add(ticket)
    return packet
