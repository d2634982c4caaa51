"""Policies are pure functions: tables of cases, no database, no model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from policies.account import check_password_reset
from policies.config import PolicyConfig, load_policy_config
from policies.escalation import must_escalate
from policies.orders import (
    check_address_change,
    check_cancel,
    check_ownership,
    check_refund,
    refundable_amount,
)
from supportgraph.commerce.records import CustomerRecord, OrderItemRecord, OrderRecord, OrderStatus

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER = "cust_456"
D = Decimal


@pytest.fixture(scope="module")
def config() -> PolicyConfig:
    return load_policy_config()


def order(
    *,
    status: OrderStatus = OrderStatus.DELIVERED,
    total: str = "800.00",
    refunded: str = "0.00",
    delivered_ago: timedelta | None = timedelta(days=5),
    customer_id: str = OWNER,
    items: tuple[OrderItemRecord, ...] | None = None,
) -> OrderRecord:
    delivered = status in (
        OrderStatus.DELIVERED,
        OrderStatus.REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED,
    )
    return OrderRecord(
        id="ORD-1",
        customer_id=customer_id,
        status=status,
        items=items
        or (OrderItemRecord(sku="EL-1", name="Thing", quantity=1, unit_price=D(total)),),
        total=D(total),
        refunded_total=D(refunded),
        shipping_method="standard",
        shipping_address="1 Main Street, Springfield, IL 62701",
        created_at=NOW - timedelta(days=40),
        shipped_at=None if status == OrderStatus.PROCESSING else NOW - timedelta(days=35),
        delivered_at=NOW - delivered_ago if delivered and delivered_ago is not None else None,
    )


def test_policy_file_matches_the_fact_sheet(config: PolicyConfig) -> None:
    assert config.refunds.window_days == 30
    assert config.refunds.auto_approve_ceiling == D("500.00")
    assert config.refunds.daily_cap == D("2500.00")
    assert config.orders.cancellable_statuses == {"processing"}
    assert config.orders.address_change_statuses == {"processing"}


GIFT_CARD = OrderItemRecord(
    sku="GC-400", name="Gift card", quantity=1, unit_price=D("50.00"), final_sale=True
)
SPEAKER = OrderItemRecord(sku="EL-102", name="Bluetooth speaker", quantity=1, unit_price=D("89.99"))

# (case id, order kwargs, amount, refunded in the last 24h, allowed, rule, requires_human, amount)
REFUND_CASES: list[tuple[str, dict[str, Any], str | None, str, bool, str, bool, str | None]] = [
    ("window_last_moment", {"total": "400.00", "delivered_ago": timedelta(days=30)}, None, "0",
     True, "refund.within_window", False, "400.00"),
    ("window_one_second_late",
     {"total": "400.00", "delivered_ago": timedelta(days=30, seconds=1)}, None, "0", False,
     "refund.window.expired", False, None),
    ("full_refund_above_ceiling", {}, None, "0", True, "refund.needs_approval", True, "800.00"),
    ("ceiling_exactly", {}, "500.00", "0", True, "refund.within_window", False, "500.00"),
    ("ceiling_plus_one_cent", {}, "500.01", "0", True, "refund.needs_approval", True, "500.01"),
    ("daily_cap_exactly", {}, "500.00", "2000.00", True, "refund.within_window", False, "500.00"),
    ("daily_cap_plus_one_cent", {}, "500.00", "2000.01", False, "refund.daily_cap", True,
     "500.00"),
    ("amount_above_refundable", {"total": "300.00"}, "300.01", "0", False,
     "refund.amount.exceeds_refundable", False, "300.00"),
    ("partially_refunded_remaining",
     {"status": OrderStatus.PARTIALLY_REFUNDED, "total": "300.00", "refunded": "100.00"}, None,
     "0", True, "refund.within_window", False, "200.00"),
    ("partially_refunded_above_remaining",
     {"status": OrderStatus.PARTIALLY_REFUNDED, "total": "300.00", "refunded": "100.00"},
     "200.01", "0", False, "refund.amount.exceeds_refundable", False, "200.00"),
    ("partially_refunded_nothing_left",
     {"status": OrderStatus.PARTIALLY_REFUNDED, "total": "300.00", "refunded": "300.00"}, None,
     "0", False, "refund.nothing_left", False, None),
    ("final_sale", {"total": "50.00", "items": (GIFT_CARD,)}, None, "0", False,
     "refund.final_sale", False, None),
    ("cancelled", {"status": OrderStatus.CANCELLED, "refunded": "800.00"}, None, "0", False,
     "refund.status.cancelled", False, None),
    ("refunded", {"status": OrderStatus.REFUNDED, "refunded": "800.00"}, None, "0", False,
     "refund.status.refunded", False, None),
    ("shipped", {"status": OrderStatus.SHIPPED}, None, "0", False, "refund.status.shipped",
     False, None),
    ("foreign_customer", {"customer_id": "cust_102"}, None, "0", False, "ownership.not_found",
     False, None),
    ("zero_amount", {}, "0.00", "0", False, "refund.amount.invalid", False, None),
    ("delivered_without_delivery_date", {"delivered_ago": None}, None, "0", False,
     "refund.not_delivered", False, None),
    ("processing_cancels_for_full_refund",
     {"status": OrderStatus.PROCESSING, "total": "1299.00"}, None, "0", True,
     "refund.unshipped.cancel", False, "1299.00"),
    ("processing_over_daily_cap", {"status": OrderStatus.PROCESSING, "total": "1299.00"}, None,
     "1300.00", False, "refund.daily_cap", True, "1299.00"),
    ("processing_partial_amount", {"status": OrderStatus.PROCESSING, "total": "1299.00"},
     "100.00", "0", False, "refund.unshipped.partial", False, "1299.00"),
    ("mixed_final_sale_refunds_other_lines", {"total": "139.99", "items": (SPEAKER, GIFT_CARD)},
     None, "0", True, "refund.within_window", False, "89.99"),
    ("mixed_final_sale_line_not_refundable", {"total": "139.99", "items": (SPEAKER, GIFT_CARD)},
     "139.99", "0", False, "refund.amount.exceeds_refundable", False, "89.99"),
    ("unshipped_with_final_sale_cancels_in_full",
     {"status": OrderStatus.PROCESSING, "total": "139.99", "items": (SPEAKER, GIFT_CARD)}, None,
     "0", True, "refund.unshipped.cancel", False, "139.99"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("order_kwargs", "amount", "last_24h", "allowed", "rule", "human", "decided_amount"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUND_CASES],
)
def test_check_refund(
    config: PolicyConfig,
    order_kwargs: dict[str, Any],
    amount: str | None,
    last_24h: str,
    allowed: bool,
    rule: str,
    human: bool,
    decided_amount: str | None,
) -> None:
    decision = check_refund(
        order(**order_kwargs),
        customer_id=OWNER,
        amount=None if amount is None else D(amount),
        refunded_last_24h=D(last_24h),
        now=NOW,
        config=config,
    )
    assert (decision.allowed, decision.rule_id, decision.requires_human) == (allowed, rule, human)
    if decided_amount is not None:
        assert decision.amount == D(decided_amount)
    assert decision.reason


def test_unknown_order_looks_like_a_foreign_one(config: PolicyConfig) -> None:
    unknown = check_refund(
        None, customer_id=OWNER, amount=None, refunded_last_24h=D(0), now=NOW, config=config
    )
    foreign = check_ownership(order(customer_id="cust_102"), OWNER)
    assert unknown.rule_id == foreign.rule_id == "ownership.not_found"
    assert unknown.reason == foreign.reason
    assert check_ownership(order(), OWNER).allowed


def test_processing_refund_says_it_cancels_the_order(config: PolicyConfig) -> None:
    decision = check_refund(
        order(status=OrderStatus.PROCESSING, total="1299.00"),
        customer_id=OWNER,
        amount=None,
        refunded_last_24h=D(0),
        now=NOW,
        config=config,
    )
    assert decision.details == {"cancels_order": True}
    assert decision.as_record()["amount"] == "1299.00"


def test_refundable_amount_is_never_negative() -> None:
    assert refundable_amount(order(total="300.00", refunded="100.00")) == D("200.00")
    assert refundable_amount(order(total="300.00", refunded="350.00")) == D("0.00")


@pytest.mark.parametrize(
    ("status", "customer_id", "last_24h", "allowed", "rule", "human"),
    [
        (OrderStatus.PROCESSING, OWNER, "0", True, "cancel.unshipped", False),
        (OrderStatus.PROCESSING, OWNER, "1201.00", True, "cancel.unshipped", False),
        (OrderStatus.PROCESSING, OWNER, "1201.01", False, "refund.daily_cap", True),
        (OrderStatus.SHIPPED, OWNER, "0", False, "cancel.status.shipped", False),
        (OrderStatus.DELIVERED, OWNER, "0", False, "cancel.status.delivered", False),
        (OrderStatus.CANCELLED, OWNER, "0", False, "cancel.status.cancelled", False),
        (OrderStatus.REFUNDED, OWNER, "0", False, "cancel.status.refunded", False),
        (OrderStatus.PROCESSING, "cust_102", "0", False, "ownership.not_found", False),
    ],
)
def test_check_cancel(
    config: PolicyConfig,
    status: OrderStatus,
    customer_id: str,
    last_24h: str,
    allowed: bool,
    rule: str,
    human: bool,
) -> None:
    decision = check_cancel(
        order(status=status, total="1299.00", customer_id=customer_id),
        customer_id=OWNER,
        refunded_last_24h=D(last_24h),
        config=config,
    )
    assert (decision.allowed, decision.rule_id, decision.requires_human) == (allowed, rule, human)
    if allowed:
        assert decision.amount == D("1299.00")


def test_cancel_of_shipped_order_points_to_returns(config: PolicyConfig) -> None:
    decision = check_cancel(
        order(status=OrderStatus.SHIPPED), customer_id=OWNER, refunded_last_24h=D(0), config=config
    )
    assert "return it" in decision.reason


def test_check_cancel_unknown_order(config: PolicyConfig) -> None:
    decision = check_cancel(None, customer_id=OWNER, refunded_last_24h=D(0), config=config)
    assert decision.rule_id == "ownership.not_found"


@pytest.mark.parametrize(
    ("status", "customer_id", "address", "allowed", "rule"),
    [
        (OrderStatus.PROCESSING, OWNER, "48 Harbor Road, Salem, MA 01970", True,
         "address.unshipped"),
        (OrderStatus.PROCESSING, OWNER, "  Salem  ", False, "address.invalid"),
        (OrderStatus.SHIPPED, OWNER, "48 Harbor Road, Salem, MA 01970", False,
         "address.status.shipped"),
        (OrderStatus.DELIVERED, OWNER, "48 Harbor Road, Salem, MA 01970", False,
         "address.status.delivered"),
        (OrderStatus.PROCESSING, "cust_102", "48 Harbor Road, Salem, MA 01970", False,
         "ownership.not_found"),
    ],
)  # fmt: skip
def test_check_address_change(
    config: PolicyConfig,
    status: OrderStatus,
    customer_id: str,
    address: str,
    allowed: bool,
    rule: str,
) -> None:
    decision = check_address_change(
        order(status=status, customer_id=customer_id),
        customer_id=OWNER,
        new_address=address,
        config=config,
    )
    assert (decision.allowed, decision.rule_id) == (allowed, rule)


CUSTOMER = CustomerRecord(
    id=OWNER, name="Dana Whitfield", email="dana.whitfield@example.com", created_at=NOW
)


@pytest.mark.parametrize(
    ("customer", "has_access", "allowed", "rule", "human"),
    [
        (CUSTOMER, True, True, "account.reset.email_on_file", False),
        (CUSTOMER, False, False, "account.recovery.human", True),
        (None, True, False, "account.not_found", False),
    ],
)
def test_check_password_reset(
    customer: CustomerRecord | None, has_access: bool, allowed: bool, rule: str, human: bool
) -> None:
    decision = check_password_reset(customer, has_email_access=has_access)
    assert (decision.allowed, decision.rule_id, decision.requires_human) == (allowed, rule, human)


@pytest.mark.parametrize(
    ("intents", "turn", "escalate", "rule"),
    [
        ([("human_agent", None)], 1, True, "escalate.always.human_agent"),
        ([("billing", "dispute")], 1, True, "escalate.always.billing:dispute"),
        ([("billing", "invoice")], 1, False, "escalate.none"),
        ([("password_reset", "account_recovery")], 1, True,
         "escalate.always.password_reset:account_recovery"),
        ([("password_reset", None)], 1, False, "escalate.none"),
        ([("complaint", "legal_threat")], 1, True, "escalate.always.complaint:legal_threat"),
        ([("complaint", None)], 1, False, "escalate.none"),
        ([("account_update", "close_account")], 1, True,
         "escalate.always.account_update:close_account"),
        ([("order_status", None), ("human_agent", None)], 1, True,
         "escalate.always.human_agent"),
        ([("refund", "request")], 6, False, "escalate.none"),
        ([("refund", "request")], 7, True, "escalate.too_many_turns"),
        ([], 1, False, "escalate.none"),
    ],
)  # fmt: skip
def test_must_escalate(
    config: PolicyConfig,
    intents: list[tuple[str, str | None]],
    turn: int,
    escalate: bool,
    rule: str,
) -> None:
    decision = must_escalate(intents, turn=turn, config=config)
    assert (not decision.allowed, decision.rule_id) == (escalate, rule)
