"""Exactly once under concurrency: 50 simultaneous refund requests, SQLite and PostgreSQL.

The requests go through the service that POST /v1/support/action calls (idempotency keys,
proposal matching, the claim, the demo store's conditional UPDATE), on real databases.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import Engine
from sqlmodel import Session, select

from graph.builder import build_graph
from graph.context import tool_context
from supportgraph.action_requests import ActionRequest, ConflictError, handle_action
from supportgraph.api_models import ActionResponse
from supportgraph.commerce.backend import BackendError
from supportgraph.commerce.demo import DemoStore
from supportgraph.commerce.demo_tables import DemoPayment
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, SupportTicket
from supportgraph.idempotency import KeyConflict
from supportgraph.services import Services
from supportgraph.support import SupportService
from tools import actions as action_tools

N = 50
TICKET = "tkt_concurrency"


@pytest.fixture
def support(store_engine: Engine, services_factory: Callable[..., Services]) -> SupportService:
    """The action service over the database under test (SQLite, or PostgreSQL when set)."""
    services = Services(services_factory().settings, engine=store_engine)
    with session_scope(store_engine) as session:
        session.add(SupportTicket(id=TICKET, customer_id="cust_456"))
    return SupportService(services, build_graph().compile(checkpointer=InMemorySaver()))


def refunds(engine: Engine, order_id: str) -> list[DemoPayment]:
    with Session(engine) as session:
        query = select(DemoPayment).where(
            DemoPayment.order_id == order_id, DemoPayment.kind == "refund"
        )
        return list(session.exec(query).all())


def statuses(engine: Engine) -> list[ActionStatus]:
    with Session(engine) as session:
        query = select(ActionExecution.status).where(ActionExecution.ticket_id == TICKET)
        return list(session.exec(query).all())


def request(key: str | None, **parameters: Any) -> ActionRequest:
    return ActionRequest(
        ticket_id=TICKET,
        customer_id="cust_456",
        action="process_refund",
        arguments={"order_id": "ORD-790", **parameters},
        confirmed_by_customer=True,
        idempotency_key=key,
    )


def run_all(support: SupportService, requests: list[ActionRequest]) -> list[Any]:
    def attempt(one: ActionRequest) -> ActionResponse | Exception:
        try:
            return handle_action(support, one)
        except (ConflictError, KeyConflict) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(attempt, requests))


def propose_refund(support: SupportService) -> ActionExecution:
    ctx = tool_context(support.services, customer_id="cust_456", ticket_id=TICKET)
    return action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790"})


def assert_refunded_once(engine: Engine) -> None:
    [payment] = refunds(engine, "ORD-790")
    assert payment.amount_cents == 14900
    with Session(engine) as session:
        executed = session.exec(
            select(ActionExecution).where(ActionExecution.status == ActionStatus.EXECUTED)
        ).all()
    assert [row.id for row in executed] == [payment.action_id]
    assert ActionStatus.PENDING not in statuses(engine)


def test_same_key_fifty_times_refunds_once_and_replays(support: SupportService) -> None:
    proposal = propose_refund(support)
    responses = run_all(support, [request("double-click") for _ in range(N)])
    assert all(isinstance(r, ActionResponse) for r in responses), responses
    assert sorted(r.replayed for r in responses) == [False] + [True] * (N - 1)
    bodies = {r.model_dump_json(exclude={"replayed"}) for r in responses}
    assert len(bodies) == 1  # every replay is the first response
    assert responses[0].action_id == proposal.id and responses[0].status == "executed"
    assert_refunded_once(support.services.engine)


def test_different_keys_fifty_times_refund_once(support: SupportService) -> None:
    proposal = propose_refund(support)
    responses = run_all(support, [request(f"key-{i}") for i in range(N)])
    assert all(isinstance(r, ActionResponse) for r in responses), responses
    assert {r.action_id for r in responses} == {proposal.id}
    assert {r.status for r in responses} <= {"executed", "pending"}
    assert sum(not r.replayed for r in responses) == N
    assert_refunded_once(support.services.engine)


def test_without_a_proposal_and_without_keys_the_order_still_refunds_once(
    support: SupportService,
) -> None:
    responses = run_all(support, [request(None) for _ in range(N)])
    executed = [r for r in responses if isinstance(r, ActionResponse) and r.status == "executed"]
    assert executed and {r.action_id for r in executed} == {executed[0].action_id}
    assert_refunded_once(support.services.engine)


def test_business_key_caps_concurrent_partial_refunds(support: SupportService) -> None:
    """50 different $49.00 refunds of a $149.00 order: three fit, whatever the keys."""
    ctx = tool_context(support.services, customer_id="cust_456", ticket_id=TICKET)
    proposals = [
        action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790", "amount": "49.00"})
        for _ in range(N)
    ]
    with ThreadPoolExecutor(max_workers=N) as pool:
        outcomes = list(pool.map(lambda row: action_tools.execute(ctx, row), proposals))
    assert sorted(o.status for o in outcomes).count(ActionStatus.EXECUTED) == 3
    assert {o.status for o in outcomes} <= {
        ActionStatus.EXECUTED, ActionStatus.DENIED, ActionStatus.FAILED
    }  # fmt: skip
    assert [p.amount_cents for p in refunds(ctx.engine, "ORD-790")] == [4900] * 3
    order = ctx.backend.get_order("ORD-790")
    assert order is not None and order.refunded_total == Decimal("147.00")
    assert ActionStatus.PENDING not in statuses(ctx.engine)


def test_business_key_holds_in_the_store_itself(store_engine: Engine) -> None:
    """No policy check in between: the conditional UPDATE alone keeps refunds within what
    was paid, for 50 simultaneous $49.00 refunds under 50 different action ids."""
    store = DemoStore(store_engine)
    start = Barrier(N)

    def refund(index: int) -> bool:
        start.wait()
        try:
            store.refund("ORD-790", Decimal("49.00"), action_id=f"act_race_{index}")
        except BackendError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=N) as pool:
        booked = list(pool.map(refund, range(N)))
    assert booked.count(True) == 3
    assert [p.amount_cents for p in refunds(store_engine, "ORD-790")] == [4900] * 3
    assert {store.effect_of(f"act_race_{i}") is not None for i in range(N)} == {True, False}
