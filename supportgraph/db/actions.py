"""The action ledger: every proposed, claimed, executed, failed or denied action is a row."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, utcnow


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
    """Insert an action row."""
    with session_scope(engine) as session:
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
    """Atomically move a proposal to pending; only one caller can win."""
    with session_scope(engine) as session:
        result = session.execute(
            update(ActionExecution)
            .where(
                col(ActionExecution.id) == action_id,
                col(ActionExecution.status) == ActionStatus.PROPOSED,
            )
            .values(status=ActionStatus.PENDING, confirmed_by_customer=True, updated_at=utcnow())
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
    """Record the outcome of a claimed action."""
    with session_scope(engine) as session:
        row = session.get(ActionExecution, action_id)
        if row is None:
            raise LookupError(action_id)
        row.status = status
        row.result = result
        row.error = error
        row.updated_at = utcnow()
        if status == ActionStatus.EXECUTED:
            row.executed_at = row.updated_at
        session.add(row)
    return row


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
