"""The action ledger: every proposed, claimed, executed, failed or denied action is a row."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, SupportTicket, utcnow

_BOOT = uuid.uuid4().hex[:8]


def process_identity() -> str:
    """``host:pid:boot`` of this process; the boot token tells a restart from the same pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{_BOOT}"


def arguments_hash(action: str, customer_id: str, arguments: dict[str, Any]) -> str:
    """A stable hash of what an action would do, for whom."""
    canonical = json.dumps(
        {"action": action, "customer_id": customer_id, "arguments": arguments},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_action(engine: Engine, action: ActionExecution) -> ActionExecution:
    """Insert an action row, opening its ticket when the graph runs without the service.

    Raises:
        LookupError: the ticket belongs to another customer.

    """
    with session_scope(engine) as session:
        if action.ticket_id is not None:
            ticket = session.get(SupportTicket, action.ticket_id)
            if ticket is None:
                session.add(SupportTicket(id=action.ticket_id, customer_id=action.customer_id))
                session.flush()
            elif ticket.customer_id != action.customer_id:
                raise LookupError(f"ticket {action.ticket_id} belongs to another customer")
        session.add(action)
    return action


def get_action(engine: Engine, action_id: str) -> ActionExecution | None:
    """One action by id."""
    with Session(engine, expire_on_commit=False) as session:
        return session.get(ActionExecution, action_id)


def find_open_proposal(
    engine: Engine, *, ticket_id: str, customer_id: str, action: str, args_hash: str
) -> ActionExecution | None:
    """The newest proposal on a ticket for exactly these arguments (any status but denied)."""
    with Session(engine, expire_on_commit=False) as session:
        return session.exec(
            select(ActionExecution)
            .where(
                ActionExecution.ticket_id == ticket_id,
                ActionExecution.customer_id == customer_id,
                ActionExecution.action == action,
                ActionExecution.arguments_hash == args_hash,
                col(ActionExecution.status).in_(
                    [ActionStatus.PROPOSED, ActionStatus.PENDING, ActionStatus.EXECUTED]
                ),
            )
            .order_by(col(ActionExecution.created_at).desc())
        ).first()


def claim_action(engine: Engine, action_id: str) -> bool:
    """Atomically move a proposal to pending, before any side effect; only one caller wins."""
    with session_scope(engine) as session:
        result = session.execute(
            update(ActionExecution)
            .where(
                col(ActionExecution.id) == action_id,
                col(ActionExecution.status) == ActionStatus.PROPOSED,
            )
            .values(
                status=ActionStatus.PENDING,
                confirmed_by_customer=True,
                claimed_by=process_identity(),
                updated_at=utcnow(),
            )
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_action(
    engine: Engine,
    action_id: str,
    *,
    status: ActionStatus,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> ActionExecution:
    """Record the outcome of a claimed action; only a pending row is finished, and only once.

    Returns the stored row: the caller's outcome, or one recorded first by someone else.
    """
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(
            update(ActionExecution)
            .where(
                col(ActionExecution.id) == action_id,
                col(ActionExecution.status) == ActionStatus.PENDING,
            )
            .values(
                status=status,
                result=result,
                error=error,
                updated_at=now,
                executed_at=now if status == ActionStatus.EXECUTED else None,
            )
        )
    row = get_action(engine, action_id)
    if row is None:
        raise LookupError(action_id)
    return row


def pending_actions(
    engine: Engine, *, claimed_before: datetime | None = None
) -> list[ActionExecution]:
    """Actions claimed but never finished, oldest first."""
    query = select(ActionExecution).where(ActionExecution.status == ActionStatus.PENDING)
    if claimed_before is not None:
        query = query.where(col(ActionExecution.updated_at) < claimed_before)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(query.order_by(col(ActionExecution.updated_at))).all())


def executed_actions(engine: Engine, *, ticket_id: str | None, customer_id: str) -> set[str]:
    """The kinds of action executed on a ticket for its customer."""
    if ticket_id is None:
        return set()
    query = select(ActionExecution.action).where(
        ActionExecution.ticket_id == ticket_id,
        ActionExecution.customer_id == customer_id,
        ActionExecution.status == ActionStatus.EXECUTED,
    )
    with Session(engine) as session:
        return set(session.exec(query).all())


def set_status(engine: Engine, action_ids: list[str], status: ActionStatus) -> None:
    """Move still-proposed actions to another status (declined, superseded)."""
    if not action_ids:
        return
    with session_scope(engine) as session:
        session.execute(
            update(ActionExecution)
            .where(
                col(ActionExecution.id).in_(action_ids),
                col(ActionExecution.status) == ActionStatus.PROPOSED,
            )
            .values(status=status, updated_at=utcnow())
        )


def note_reason(engine: Engine, action_id: str, reason: str) -> None:
    """Keep the customer's reason for an action; a reason given first is not replaced."""
    with session_scope(engine) as session:
        session.execute(
            update(ActionExecution)
            .where(
                col(ActionExecution.id) == action_id,
                col(ActionExecution.customer_reason).is_(None),
            )
            .values(customer_reason=reason)
        )
