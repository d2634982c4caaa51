"""Settles actions that a crash left pending, from the backend's own record of what it did.

An action is claimed (pending) before its side effect and finished after it. A process that
dies in between leaves a pending row; the backend, asked by action id, says whether the
effect happened. The reconciler only records that answer: it never performs anything.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from supportgraph.commerce.backend import CommerceBackend
from supportgraph.commerce.records import ActionEffect
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus, utcnow
from tools.account import order_facts

log = logging.getLogger(__name__)

# Longer than any backend call may take: a claim this old has no live owner left.
GRACE = timedelta(minutes=2)
INTERRUPTED = "interrupted before it took effect; nothing was done (settled on restart)"


@dataclass
class ReconcileReport:
    """Which pending actions were settled, and how; those left to their live owner."""

    executed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


def settle(engine: Engine, backend: CommerceBackend, action_id: str) -> ActionExecution:
    """Finish a pending action as the backend's record says: executed or failed."""
    effect = backend.effect_of(action_id)
    if effect is None:
        return ledger.finish_action(
            engine, action_id, status=ActionStatus.FAILED, error=INTERRUPTED
        )
    return ledger.finish_action(
        engine, action_id, status=ActionStatus.EXECUTED, result=_result_of(backend, effect)
    )


def _result_of(backend: CommerceBackend, effect: ActionEffect) -> dict[str, Any]:
    """The same shape ``tools.actions.execute`` records, so replies read both alike."""
    result: dict[str, Any] = {"reconciled": True, "effect": effect.kind, **effect.details}
    if effect.kind == "refund":
        result["refunded"] = effect.details["amount"]
    order = backend.get_order(effect.order_id) if effect.order_id else None
    if order is not None:
        result["order"] = order_facts(order)
    return result


def reconcile_pending(
    engine: Engine,
    backend: CommerceBackend,
    *,
    grace: timedelta = GRACE,
    now: datetime | None = None,
) -> ReconcileReport:
    """Settle every pending action whose claiming process is gone.

    A claim is abandoned when its process on this host is no longer running (or is an
    earlier run of this very pid), or when it is older than ``grace`` (another host).
    """
    now = now or utcnow()
    report = ReconcileReport()
    for row in ledger.pending_actions(engine):
        if not _abandoned(row, now - grace):
            report.waiting.append(row.id)
            continue
        settled = settle(engine, backend, row.id)
        bucket = report.executed if settled.status == ActionStatus.EXECUTED else report.failed
        bucket.append(row.id)
    if report.executed or report.failed:
        log.warning(
            "reconciled interrupted actions: executed=%s failed=%s",
            report.executed,
            report.failed,
        )
    return report


def _abandoned(row: ActionExecution, stale_before: datetime) -> bool:
    if row.updated_at < stale_before:
        return True
    host, _, rest = (row.claimed_by or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return row.claimed_by != ledger.process_identity()
    return not _running(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
