"""Tools over a real demo store: policy first, recorded before and after, performed once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from testkit import refund_payments

from graph.context import tool_context
from supportgraph.commerce.demo_tables import DemoOrder, DemoOrderItem, DemoPayment
from supportgraph.db import actions as ledger
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionStatus, SupportTicket, utcnow
from supportgraph.services import Services
from tools import actions as action_tools
from tools.account import lookup_order, recent_orders
from tools.context import ToolContext


def context_for(services: Services, customer_id: str = "cust_456") -> ToolContext:
    ticket_id = f"tkt_tools_{customer_id}"
    with session_scope(services.engine) as session:
        if session.get(SupportTicket, ticket_id) is None:
            session.add(SupportTicket(id=ticket_id, customer_id=customer_id))
    return tool_context(services, customer_id=customer_id, ticket_id=ticket_id)


def refunded_today(services: Services, cents: int) -> None:
    """A $-large delivered order of cust_456 refunded earlier today (by a person)."""
    now = utcnow()
    with session_scope(services.engine) as session:
        session.add(
            DemoOrder(
                id="ORD-9001", customer_id="cust_456", status="delivered", total_cents=cents,
                shipping_address="12 Alder Lane, Portland, OR 97205",
                created_at=now - timedelta(days=6), shipped_at=now - timedelta(days=5),
                delivered_at=now - timedelta(days=2),
            )
        )  # fmt: skip
        session.add(
            DemoOrderItem(order_id="ORD-9001", sku="EL-103", name="27-inch 4K monitor",
                          quantity=1, unit_price_cents=cents)
        )  # fmt: skip
        session.add(
            DemoPayment(id="pay_9001", order_id="ORD-9001", customer_id="cust_456",
                        kind="charge", method="visa", amount_cents=cents,
                        created_at=now - timedelta(days=6))
        )  # fmt: skip
    services.backend.refund("ORD-9001", Decimal(cents) / 100, action_id="act_human_refund")


def test_read_tools_only_see_the_customers_orders(services: Services) -> None:
    ctx = context_for(services)
    assert lookup_order(ctx, "ORD-789") is not None
    assert lookup_order(ctx, "ord-789") is not None
    assert lookup_order(ctx, "ORD-1201") is None  # cust_102's
    assert lookup_order(ctx, "ORD-0") is None
    assert {o["order_id"] for o in recent_orders(ctx)} == {"ORD-789", "ORD-790"}
    facts = lookup_order(ctx, "ORD-789")
    assert facts is not None
    assert (facts["status"], facts["total"], facts["refundable"]) == (
        "processing", "1299.00", "1299.00"
    )  # fmt: skip


def test_propose_then_execute_once(services: Services) -> None:
    ctx = context_for(services)
    proposal = action_tools.propose(ctx, "process_refund", {"order_id": "ord-790"})
    assert proposal.status == ActionStatus.PROPOSED
    assert proposal.arguments == {"order_id": "ORD-790", "amount": "149.00"}
    assert proposal.policy_rule == "refund.within_window"
    assert refund_payments(services, "ORD-790") == []  # proposing performs nothing

    done = action_tools.execute(ctx, proposal)
    again = action_tools.execute(ctx, proposal)
    assert done.status == again.status == ActionStatus.EXECUTED
    assert done.result is not None and done.result["refunded"] == "149.00"
    [payment] = refund_payments(services, "ORD-790")
    assert payment.action_id == proposal.id
    order = services.backend.get_order("ORD-790")
    assert order is not None and order.status == "refunded"


def test_execute_rechecks_policy_on_fresh_data(services: Services) -> None:
    ctx = context_for(services)
    proposal = action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790"})
    services.backend.refund("ORD-790", Decimal("149.00"), action_id="act_elsewhere")
    outcome = action_tools.execute(ctx, proposal)
    assert outcome.status == ActionStatus.DENIED
    assert outcome.error
    assert len(refund_payments(services, "ORD-790")) == 1


def test_another_customer_cannot_execute_a_proposal(services: Services) -> None:
    ctx = context_for(services)
    proposal = action_tools.propose(ctx, "process_refund", {"order_id": "ORD-790"})
    outcome = action_tools.execute(context_for(services, "cust_102"), proposal)
    assert outcome.status == ActionStatus.DENIED
    assert outcome.policy_rule == "ownership.foreign_action"
    assert outcome.customer_id == "cust_102"
    stored = ledger.get_action(services.engine, proposal.id)
    assert stored is not None and stored.status == ActionStatus.PROPOSED
    assert refund_payments(services, "ORD-790") == []


def test_daily_cap_sends_a_refund_to_a_person(services: Services) -> None:
    refunded_today(services, 200000)
    ctx = context_for(services)
    proposal = action_tools.propose(ctx, "process_refund", {"order_id": "ORD-789"})
    assert proposal.policy_rule == "refund.daily_cap"
    assert proposal.requires_human
    outcome = action_tools.execute(ctx, proposal)
    assert outcome.status != ActionStatus.EXECUTED
    assert refund_payments(services, "ORD-789") == []


def test_cancel_respects_the_daily_refund_cap(services: Services) -> None:
    refunded_today(services, 200000)
    ctx = context_for(services)
    proposal = action_tools.propose(ctx, "cancel_order", {"order_id": "ORD-789"})
    assert (proposal.policy_rule, proposal.requires_human) == ("refund.daily_cap", True)
    assert action_tools.execute(ctx, proposal).status != ActionStatus.EXECUTED
    assert refund_payments(services, "ORD-789") == []
    order = services.backend.get_order("ORD-789")
    assert order is not None and order.status == "processing"


@pytest.mark.parametrize(
    ("action", "arguments", "message"),
    [
        ("issue_store_credit", {}, "unknown action"),
        ("process_refund", {}, "order_id"),
        ("update_shipping_address", {"order_id": "ORD-789"}, "address"),
        ("process_refund", {"order_id": "ORD-789", "amount": "ten"}, "not a number"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_recorded(
    services: Services, action: str, arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(action_tools.ActionError, match=message):
        action_tools.propose(context_for(services), action, arguments)
