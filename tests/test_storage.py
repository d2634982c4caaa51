"""The storage layer on SQLite and PostgreSQL: schema, demo store seed and writes, action ledger."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect
from sqlmodel import Session, col, func, select

from supportgraph.commerce.backend import BackendError
from supportgraph.commerce.demo import DemoStore
from supportgraph.commerce.demo_tables import DemoCustomer, DemoEmail, DemoOrder, DemoPayment
from supportgraph.commerce.records import OrderStatus
from supportgraph.db import actions as ledger
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, SupportTicket, utcnow
from supportgraph.demo.seed import seed_demo_store

ALL_STATUSES = {status.value for status in OrderStatus}


def refund_rows(engine: Engine, order_id: str) -> list[DemoPayment]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(DemoPayment).where(
                    DemoPayment.order_id == order_id, DemoPayment.kind == "refund"
                )
            ).all()
        )


def test_schema_has_every_table(empty_engine: Callable[[], Engine]) -> None:
    engine = empty_engine()
    tables = set(inspect(engine).get_table_names())
    assert {
        "supportticket",
        "customermessage",
        "intentclassification",
        "retrievalcontext",
        "escalationdecision",
        "actionexecution",
        "resolutionfeedback",
        "democustomer",
        "demoorder",
        "demoorderitem",
        "demopayment",
        "demoemail",
    } <= tables


def test_seed_counts_and_statuses(store_engine: Engine) -> None:
    with Session(store_engine) as session:
        customers = session.exec(select(func.count()).select_from(DemoCustomer)).one()
        orders = session.exec(select(func.count()).select_from(DemoOrder)).one()
        statuses = set(session.exec(select(DemoOrder.status).distinct()).all())
    assert customers >= 200
    assert orders >= 1000
    assert statuses == ALL_STATUSES


def test_fixture_order_of_cust_456(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    customer = store.get_customer("cust_456")
    assert customer is not None and customer.name == "Dana Whitfield"
    order = store.get_order("ORD-789")
    assert order is not None
    assert order.customer_id == "cust_456"
    assert order.status == OrderStatus.PROCESSING
    assert order.total == Decimal("1299.00")
    assert order.refunded_total == Decimal("0.00")
    assert order.description == "Aurora 14 laptop"
    age = utcnow() - order.created_at
    assert timedelta(days=3) - timedelta(hours=1) < age < timedelta(days=3, hours=1)
    assert [o.id for o in store.list_orders("cust_456")] == ["ORD-789", "ORD-790"]
    charges = [p for p in store.list_payments("cust_456") if p.order_id == "ORD-789"]
    assert [(p.kind, p.amount) for p in charges] == [("charge", Decimal("1299.00"))]


def test_list_orders_reads_every_order_line_in_one_query(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    with Session(store_engine) as session:
        customer_id = session.exec(
            select(DemoOrder.customer_id)
            .group_by(col(DemoOrder.customer_id))
            .having(func.count() >= 4)
            .order_by(col(DemoOrder.customer_id))
        ).first()
    assert customer_id is not None
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(store_engine, "before_cursor_execute", count)
    try:
        orders = store.list_orders(customer_id)
    finally:
        event.remove(store_engine, "before_cursor_execute", count)
    assert len(orders) >= 4
    assert len([s for s in statements if "demoorderitem" in s.lower()]) == 1
    assert orders == [store.get_order(order.id) for order in orders]
    assert all(order.items for order in orders)


def test_seed_is_deterministic(empty_engine: Callable[[], Engine]) -> None:
    now = utcnow().replace(microsecond=0)

    def seeded_orders() -> list[tuple[Any, ...]]:
        engine = empty_engine()
        summary = seed_demo_store(engine, now=now)
        assert summary.created
        with Session(engine) as session:
            rows = session.exec(select(DemoOrder).order_by(DemoOrder.id)).all()
            return [
                (o.id, o.customer_id, o.status, o.total_cents, o.refunded_cents,
                 o.shipping_address, o.created_at, o.delivered_at)
                for o in rows
            ]  # fmt: skip

    first = seeded_orders()
    second = seeded_orders()
    assert len(first) >= 1000
    assert first == second


def test_seed_leaves_an_existing_store_alone(store_engine: Engine) -> None:
    summary = seed_demo_store(store_engine)
    assert not summary.created
    assert summary.customers >= 200 and summary.orders >= 1000


def test_refund_books_once_per_action_id(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    first = store.refund("ORD-790", Decimal("49.00"), action_id="act_test_once")
    again = store.refund("ORD-790", Decimal("49.00"), action_id="act_test_once")
    assert first.status == again.status == OrderStatus.PARTIALLY_REFUNDED
    assert again.refunded_total == Decimal("49.00")
    rows = refund_rows(store_engine, "ORD-790")
    assert [(row.amount_cents, row.action_id) for row in rows] == [(4900, "act_test_once")]
    assert store.refunded_since("cust_456", utcnow() - timedelta(days=1)) == Decimal("49.00")


def test_refund_beyond_refundable_is_refused(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    with pytest.raises(BackendError):
        store.refund("ORD-790", Decimal("149.01"), action_id="act_too_much")
    with pytest.raises(BackendError):  # already refunded in full at seed time
        store.refund("ORD-1302", Decimal("1.00"), action_id="act_nothing_left")
    order = store.get_order("ORD-790")
    assert order is not None and order.refunded_total == Decimal("0.00")
    assert refund_rows(store_engine, "ORD-790") == []


def test_full_refund_of_delivered_order(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    order = store.refund("ORD-1401", Decimal("200.00"), action_id="act_rest")
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_total == order.total == Decimal("300.00")


def test_cancel_processing_order_refunds_everything(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    cancelled = store.cancel_order("ORD-789", action_id="act_cancel")
    assert cancelled.status == OrderStatus.CANCELLED
    assert cancelled.refunded_total == Decimal("1299.00")
    assert [row.amount_cents for row in refund_rows(store_engine, "ORD-789")] == [129900]
    with pytest.raises(BackendError):
        store.cancel_order("ORD-1101", action_id="act_cancel_shipped")  # shipped


def test_address_change_only_before_shipping(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    moved = store.update_shipping_address(
        "ORD-789", "48 Harbor Road, Salem, MA 01970", action_id="act_addr"
    )
    assert moved.shipping_address == "48 Harbor Road, Salem, MA 01970"
    with pytest.raises(BackendError):
        store.update_shipping_address("ORD-790", "48 Harbor Road, Salem, MA 01970", action_id="x")


def test_password_reset_email_sent_once(store_engine: Engine) -> None:
    store = DemoStore(store_engine)
    assert store.send_password_reset("cust_456", action_id="act_reset") == "d***@example.com"
    assert store.send_password_reset("cust_456", action_id="act_reset") == "d***@example.com"
    with Session(store_engine) as session:
        emails = session.exec(select(DemoEmail).where(DemoEmail.customer_id == "cust_456")).all()
    assert [(e.kind, e.to_email) for e in emails] == [
        ("password_reset", "dana.whitfield@example.com")
    ]


def _proposal(engine: Engine) -> ActionExecution:
    with session_scope(engine) as session:
        if session.get(SupportTicket, "tkt_storage") is None:
            session.add(SupportTicket(id="tkt_storage", customer_id="cust_456"))
    arguments = {"order_id": "ORD-789", "amount": "1299.00"}
    return ledger.record_action(
        engine,
        ActionExecution(
            ticket_id="tkt_storage",
            customer_id="cust_456",
            action="process_refund",
            arguments=arguments,
            arguments_hash=ledger.arguments_hash("process_refund", "cust_456", arguments),
            policy_rule="refund.unshipped.cancel",
            policy_allowed=True,
            policy_reason="test",
        ),
    )


def test_action_ledger_claim_is_won_once(store_engine: Engine) -> None:
    proposal = _proposal(store_engine)
    assert ledger.claim_action(store_engine, proposal.id) is True
    assert ledger.claim_action(store_engine, proposal.id) is False
    claimed = ledger.get_action(store_engine, proposal.id)
    assert claimed is not None
    assert claimed.status == ActionStatus.PENDING and claimed.confirmed_by_customer
    done = ledger.finish_action(
        store_engine, proposal.id, status=ActionStatus.EXECUTED, result={"ok": True}
    )
    assert done.executed_at is not None
    stored = ledger.get_action(store_engine, proposal.id)
    assert stored is not None and stored.status == ActionStatus.EXECUTED
    assert stored.result == {"ok": True}
    assert ledger.claim_action(store_engine, proposal.id) is False


def test_action_ledger_concurrent_claims(store_engine: Engine) -> None:
    proposal = _proposal(store_engine)
    with ThreadPoolExecutor(max_workers=6) as pool:
        wins = list(pool.map(lambda _: ledger.claim_action(store_engine, proposal.id), range(6)))
    assert wins.count(True) == 1


def test_action_ledger_open_proposal_and_status_moves(store_engine: Engine) -> None:
    proposal = _proposal(store_engine)

    def open_one() -> ActionExecution | None:
        return ledger.find_open_proposal(
            store_engine,
            ticket_id="tkt_storage",
            customer_id="cust_456",
            action="process_refund",
            args_hash=proposal.arguments_hash,
        )

    found = open_one()
    assert found is not None and found.id == proposal.id
    ledger.set_status(store_engine, [proposal.id], ActionStatus.DECLINED)
    declined = ledger.get_action(store_engine, proposal.id)
    assert declined is not None and declined.status == ActionStatus.DECLINED
    assert open_one() is None
    assert ledger.claim_action(store_engine, proposal.id) is False


def test_arguments_hash_is_canonical() -> None:
    one = ledger.arguments_hash("process_refund", "cust_456", {"order_id": "ORD-1", "amount": "5"})
    two = ledger.arguments_hash("process_refund", "cust_456", {"amount": "5", "order_id": "ORD-1"})
    arguments = {"order_id": "ORD-1", "amount": "5"}
    other = ledger.arguments_hash("process_refund", "cust_102", arguments)
    assert one == two != other
