"""A process killed between claiming an action and finishing it: after a restart the action
is settled from the store's own record, never lost and never performed twice."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from testkit import refund_payments

from policies.config import load_policy_config
from server import open_support_service
from supportgraph.commerce.demo import DemoStore
from supportgraph.db import actions as ledger
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, SupportTicket, utcnow
from supportgraph.services import Services
from tools import actions as action_tools
from tools.context import ToolContext
from tools.reconcile import INTERRUPTED, reconcile_pending

CHILD = Path(__file__).with_name("crash_child.py")


@pytest.fixture
def services(store_engine: Engine, services_factory: Callable[..., Services]) -> Services:
    """Services over the database under test, as a restarted server would build them."""
    built = Services(services_factory().settings, engine=store_engine)
    with session_scope(store_engine) as session:
        session.add(SupportTicket(id="tkt_crash", customer_id="cust_456"))
    return built


def context(services: Services) -> ToolContext:
    return ToolContext("cust_456", "tkt_crash", DemoStore(services.engine), services.engine,
                       load_policy_config())  # fmt: skip


def crash_during(services: Services, proposal: ActionExecution, moment: str) -> None:
    url = services.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, str(CHILD), url, proposal.id, moment],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 17, stderr
    claimed = ledger.get_action(services.engine, proposal.id)
    assert claimed is not None and claimed.status == ActionStatus.PENDING  # not lost
    assert claimed.claimed_by == f"{socket.gethostname()}:{child.pid}:" + claimed.claimed_by[-8:]


def restart(services: Services) -> None:
    """The server's start-up path (``create_app``'s lifespan and ``supportgraph chat``)."""
    with open_support_service(services):
        pass


def test_killed_after_the_claim_fails_the_action_and_a_retry_refunds_once(
    services: Services,
) -> None:
    ctx = context(services)
    proposal = action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790"})
    crash_during(services, proposal, "after_claim")
    assert refund_payments(services, "ORD-790") == []

    restart(services)
    settled = ledger.get_action(services.engine, proposal.id)
    assert settled is not None
    assert (settled.status, settled.error) == (ActionStatus.FAILED, INTERRUPTED)
    assert action_tools.execute(ctx, settled).status == ActionStatus.FAILED  # no re-run

    retry = action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790"})
    assert action_tools.execute(ctx, retry).status == ActionStatus.EXECUTED
    assert [p.action_id for p in refund_payments(services, "ORD-790")] == [retry.id]


def test_killed_after_the_refund_records_it_executed_without_refunding_again(
    services: Services,
) -> None:
    ctx = context(services)
    proposal = action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790"})
    crash_during(services, proposal, "after_effect")
    assert [p.action_id for p in refund_payments(services, "ORD-790")] == [proposal.id]

    restart(services)
    settled = ledger.get_action(services.engine, proposal.id)
    assert settled is not None and settled.status == ActionStatus.EXECUTED
    assert settled.executed_at is not None and settled.result is not None
    assert settled.result["reconciled"] is True and settled.result["refunded"] == "149.00"
    assert settled.result["order"]["status"] == "refunded"

    assert action_tools.execute(ctx, settled).status == ActionStatus.EXECUTED
    again = action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790"})
    assert again.status == ActionStatus.DENIED and again.policy_rule == "refund.status.refunded"
    assert len(refund_payments(services, "ORD-790")) == 1
    restart(services)  # a second restart finds nothing left to do
    assert ledger.pending_actions(services.engine) == []


def _pending(services: Services, claimed_by: str) -> str:
    proposal = action_tools.propose(context(services), "send_password_reset", {})
    assert ledger.claim_action(services.engine, proposal.id)
    with session_scope(services.engine) as session:
        row = session.get(ActionExecution, proposal.id)
        assert row is not None
        row.claimed_by = claimed_by
        session.add(row)
    return proposal.id


def test_claims_of_live_processes_are_left_alone_until_stale(services: Services) -> None:
    here = socket.gethostname()
    mine = _pending(services, ledger.process_identity())
    elsewhere = _pending(services, "another-host:4242:0a1b2c3d")
    earlier_me = _pending(services, f"{here}:{os.getpid()}:00000000")  # same pid, new boot
    report = reconcile_pending(services.engine, services.backend)
    assert report.waiting == [mine, elsewhere]
    assert report.failed == [earlier_me]  # no email went out for it

    later = utcnow() + timedelta(minutes=3)
    report = reconcile_pending(services.engine, services.backend, now=later)
    assert sorted(report.failed) == sorted([mine, elsewhere])
