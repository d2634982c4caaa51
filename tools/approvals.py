"""Actions a person decided: perform an approved proposal exactly once, or reject it.

Like ``tools.actions.execute``: the row is claimed (with who approved it) before the side
effect, policy is checked again, and the outcome is recorded after. Each function returns
the stored row and whether this call made the decision (False: someone decided first).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import col

from policies.approval import after_approval
from supportgraph.commerce.backend import BackendError
from supportgraph.db import actions as ledger
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, utcnow
from tools.actions import SPECS
from tools.context import ToolContext
from tools.reconcile import settle


def _take(
    engine: Engine,
    proposal: ActionExecution,
    status: ActionStatus,
    approval: dict[str, Any],
    **values: Any,
) -> bool:
    """Move a still-proposed row to ``status`` with the person's decision; only one caller wins."""
    with session_scope(engine) as session:
        result = session.execute(
            update(ActionExecution)
            .where(
                col(ActionExecution.id) == proposal.id,
                col(ActionExecution.status) == ActionStatus.PROPOSED,
            )
            .values(
                status=status,
                result={**(proposal.result or {}), "approval": approval},
                updated_at=utcnow(),
                **values,
            )
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _stored(engine: Engine, action_id: str) -> ActionExecution:
    row = ledger.get_action(engine, action_id)
    if row is None:
        raise LookupError(action_id)
    return row


def perform_approved(
    ctx: ToolContext, proposal: ActionExecution, approval: dict[str, Any]
) -> tuple[ActionExecution, bool]:
    """Perform a proposal a person approved, after checking policy again; exactly once."""
    if proposal.customer_id != ctx.customer_id:
        raise LookupError(f"action {proposal.id} belongs to another account")
    claimed = _take(
        ctx.engine, proposal, ActionStatus.PENDING, approval, claimed_by=ledger.process_identity()
    )
    if not claimed:
        return _stored(ctx.engine, proposal.id), False
    spec = SPECS[proposal.action]
    decision = after_approval(spec.check(ctx, proposal.arguments))
    record = {"policy": decision.as_record(), "approval": approval}
    if not decision.allowed or decision.requires_human:
        denied = ledger.finish_action(
            ctx.engine,
            proposal.id,
            status=ActionStatus.DENIED,
            result=record,
            error=decision.reason,
        )
        return denied, True
    try:
        result = spec.perform(ctx, proposal.arguments, proposal.id)
    except BackendError as exc:
        failed = ledger.finish_action(
            ctx.engine, proposal.id, status=ActionStatus.FAILED, result=record, error=str(exc)
        )
        return failed, True
    except Exception:
        with suppress(Exception):  # the original error matters more than this attempt
            settle(ctx.engine, ctx.backend, proposal.id)
        raise
    done = ledger.finish_action(
        ctx.engine, proposal.id, status=ActionStatus.EXECUTED, result={**record, **result}
    )
    return done, True


def reject(
    engine: Engine, proposal: ActionExecution, approval: dict[str, Any], reason: str
) -> tuple[ActionExecution, bool]:
    """Deny a proposal a person rejected; nothing is performed."""
    decided = _take(engine, proposal, ActionStatus.DENIED, approval, error=reason)
    return _stored(engine, proposal.id), decided
