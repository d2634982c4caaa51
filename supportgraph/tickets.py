"""The stored view of one ticket: its records, and for staff who accessed it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from supportgraph.auth.audit import access_log
from supportgraph.db import models
from supportgraph.support import NotFoundError


def ticket_view(engine: Engine, ticket_id: str, *, with_access_log: bool) -> dict[str, Any]:
    """The ticket with its messages, decisions, actions and feedback, oldest first.

    Raises:
        NotFoundError: no such ticket.

    """
    with Session(engine) as session:
        ticket = session.get(models.SupportTicket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"ticket {ticket_id} not found")

        def rows(table: Any) -> list[dict[str, Any]]:
            found = session.exec(
                select(table).where(table.ticket_id == ticket_id).order_by(col(table.created_at))
            ).all()
            return [row.model_dump(mode="json") for row in found]

        view = {
            **ticket.model_dump(mode="json"),
            "messages": rows(models.CustomerMessage),
            "classifications": rows(models.IntentClassification),
            "retrievals": rows(models.RetrievalContext),
            "escalation_decisions": rows(models.EscalationDecision),
            "actions": rows(models.ActionExecution),
            "feedback": rows(models.ResolutionFeedback),
        }
    if with_access_log:
        view["access_log"] = access_log(engine, ticket_id)
    return view
