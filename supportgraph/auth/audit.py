"""The record of who read or changed a ticket, written by the services the routes call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from supportgraph.auth.models import AccessRecord
from supportgraph.auth.principals import Principal, Scope
from supportgraph.db.engine import session_scope


@dataclass(frozen=True)
class Actor:
    """An authenticated caller, the scope that let them in, and the customer they speak for."""

    principal: Principal
    scope: Scope
    customer_id: str | None = None

    @property
    def customer(self) -> str:
        """The customer a customer-side request speaks for."""
        assert self.customer_id is not None, "not a customer-side actor"
        return self.customer_id

    def record(self, ticket_id: str, operation: str) -> AccessRecord:
        """The audit row of this caller doing ``operation`` on the ticket."""
        return AccessRecord(
            ticket_id=ticket_id,
            principal_id=self.principal.id,
            principal_kind=self.principal.kind.value,
            scope=self.scope.value,
            key_id=self.principal.key_id,
            operation=operation,
        )


def record_access(engine: Engine, actor: Actor, ticket_id: str, operation: str) -> None:
    """Store that ``actor`` did ``operation`` on the ticket."""
    with session_scope(engine) as session:
        session.add(actor.record(ticket_id, operation))


def access_log(engine: Engine, ticket_id: str) -> list[dict[str, Any]]:
    """Who accessed the ticket, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(AccessRecord)
            .where(AccessRecord.ticket_id == ticket_id)
            .order_by(col(AccessRecord.created_at))
        ).all()
    return [row.model_dump(mode="json", exclude={"ticket_id"}) for row in rows]
