"""Every policy rule, boundary and combination as a table; the policy is data, not constants.

A last test reads the rule ids out of ``policies/`` and fails when a rule has no case here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from policies.account import check_password_reset
from policies.config import PolicyConfig, load_policy_config
from policies.decision import PolicyDecision
from policies.escalation import must_escalate
from policies.orders import (
    check_address_change,
    check_cancel,
    check_ownership,
    check_refund,
    refundable_amount,
)
from supportgraph.commerce.records import CustomerRecord, OrderItemRecord, OrderRecord, OrderStatus

D = Decimal
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER, OTHER = "cust_456", "cust_102"
POLICY_DIR = Path(__file__).resolve().parents[1] / "policies"
S = OrderStatus


def item(price: str, *, final_sale: bool = False, quantity: int = 1) -> OrderItemRecord:
    return OrderItemRecord(
        sku="GC-1" if final_sale else "EL-1", name="Gift card" if final_sale else "Thing",
        quantity=quantity, unit_price=D(price), final_sale=final_sale,
    )  # fmt: skip


def order(
    status: OrderStatus = S.DELIVERED,
    *,
    total: str = "300.00",
    refunded: str = "0.00",
    days: float | None = 5,
    owner: str = OWNER,
    items: tuple[OrderItemRecord, ...] | None = None,
) -> OrderRecord:
    """An order delivered ``days`` ago (None: no delivery date)."""
    delivered = status in (S.DELIVERED, S.REFUNDED, S.PARTIALLY_REFUNDED) and days is not None
    return OrderRecord(
        id="ORD-1", customer_id=owner, status=status, items=items or (item(total),),
        total=D(total), refunded_total=D(refunded), shipping_method="standard",
        shipping_address="1 Main Street, Springfield, IL 62701",
        created_at=NOW - timedelta(days=60),
        shipped_at=None if status == S.PROCESSING else NOW - timedelta(days=50),
        delivered_at=NOW - timedelta(days=days) if delivered and days is not None else None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def config() -> PolicyConfig:
    return load_policy_config()


def expect(decision: PolicyDecision, allowed: bool, rule: str, human: bool) -> None:
    assert (decision.allowed, decision.rule_id, decision.requires_human) == (allowed, rule, human)
    assert decision.reason and "{" not in decision.reason


GIFT = item("50.00", final_sale=True)
MIXED = (item("250.00"), GIFT)  # total 300.00, 250.00 of it refundable once shipped

# id: (order, amount asked, refunded in the last 24h, allowed, rule, human, decided amount)
REFUND: dict[str, tuple[OrderRecord | None, str | None, str, bool, str, bool, str | None]] = {
    "unknown_order": (None, None, "0", False, "ownership.not_found", False, None),
    "foreign_order": (order(owner=OTHER), None, "0", False, "ownership.not_found", False, None),
    "shipped": (order(S.SHIPPED), None, "0", False, "refund.status.shipped", False, None),
    "cancelled": (order(S.CANCELLED, refunded="300.00"), None, "0", False,
                  "refund.status.cancelled", False, None),
    "refunded": (order(S.REFUNDED, refunded="300.00"), None, "0", False,
                 "refund.status.refunded", False, None),
    "final_sale_delivered": (order(total="50.00", items=(GIFT,)), None, "0", False,
                             "refund.final_sale", False, None),
    "final_sale_unshipped_cancels": (order(S.PROCESSING, total="50.00", items=(GIFT,)), None,
                                     "0", True, "refund.unshipped.cancel", False, "50.00"),
    "mixed_order_excludes_final_sale": (order(items=MIXED), None, "0", True,
                                        "refund.within_window", False, "250.00"),
    "mixed_order_cent_above_eligible": (order(items=MIXED), "250.01", "0", False,
                                        "refund.amount.exceeds_refundable", False, "250.00"),
    "mixed_unshipped_refunds_everything": (order(S.PROCESSING, items=MIXED), None, "0", True,
                                           "refund.unshipped.cancel", False, "300.00"),
    "nothing_left": (order(S.PARTIALLY_REFUNDED, refunded="300.00"), None, "0", False,
                     "refund.nothing_left", False, None),
    "nothing_left_but_final_sale": (order(S.PARTIALLY_REFUNDED, refunded="250.00", items=MIXED),
                                    None, "0", False, "refund.nothing_left", False, None),
    "zero_amount": (order(), "0.00", "0", False, "refund.amount.invalid", False, None),
    "negative_amount": (order(), "-5.00", "0", False, "refund.amount.invalid", False, None),
    "one_cent": (order(), "0.01", "0", True, "refund.within_window", False, "0.01"),
    "exactly_refundable": (order(), "300.00", "0", True, "refund.within_window", False, "300.00"),
    "cent_above_refundable": (order(), "300.01", "0", False, "refund.amount.exceeds_refundable",
                              False, "300.00"),
    "partially_refunded_rest": (order(S.PARTIALLY_REFUNDED, refunded="100.00"), None, "0", True,
                                "refund.within_window", False, "200.00"),
    "partially_refunded_above_rest": (order(S.PARTIALLY_REFUNDED, refunded="100.00"), "200.01",
                                      "0", False, "refund.amount.exceeds_refundable", False,
                                      "200.00"),
    "unshipped_partial": (order(S.PROCESSING, total="1299.00"), "100.00", "0", False,
                          "refund.unshipped.partial", False, "1299.00"),
    "unshipped_full_amount_named": (order(S.PROCESSING, total="1299.00"), "1299.00", "0", True,
                                    "refund.unshipped.cancel", False, "1299.00"),
    "unshipped_above_ceiling_is_no_approval": (order(S.PROCESSING, total="1299.00"), None, "0",
                                               True, "refund.unshipped.cancel", False, "1299.00"),
    "no_delivery_date": (order(days=None), None, "0", False, "refund.not_delivered", False, None),
    "delivered_today": (order(days=0), None, "0", True, "refund.within_window", False, "300.00"),
    "window_last_second": (order(days=30), None, "0", True, "refund.within_window", False,
                           "300.00"),
    "window_one_second_late": (order(days=30 + 1 / 86400), None, "0", False,
                               "refund.window.expired", False, None),
    "ceiling_exactly": (order(total="800.00"), "500.00", "0", True, "refund.within_window",
                        False, "500.00"),
    "ceiling_plus_cent": (order(total="800.00"), "500.01", "0", True, "refund.needs_approval",
                          True, "500.01"),
    "ceiling_on_what_is_left": (order(S.PARTIALLY_REFUNDED, total="900.00", refunded="300.00"),
                                None, "0", True, "refund.needs_approval", True, "600.00"),
    "daily_cap_exactly": (order(), "300.00", "2200.00", True, "refund.within_window", False,
                          "300.00"),
    "daily_cap_plus_cent": (order(), "300.00", "2200.01", False, "refund.daily_cap", True,
                            "300.00"),
    "daily_cap_before_ceiling": (order(total="800.00"), None, "2000.00", False,
                                 "refund.daily_cap", True, "800.00"),
    "daily_cap_unshipped": (order(S.PROCESSING, total="1299.00"), None, "1201.01", False,
                            "refund.daily_cap", True, "1299.00"),
    "refusal_before_cap": (order(days=45), None, "2500.00", False, "refund.window.expired",
                           False, None),
    "foreign_before_everything": (order(S.SHIPPED, owner=OTHER), "-1", "9999", False,
                                  "ownership.not_found", False, None),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUND), ids=list(REFUND))
def test_refund_table(config: PolicyConfig, case: str) -> None:
    target, amount, last_24h, allowed, rule, human, decided = REFUND[case]
    decision = check_refund(
        target, customer_id=OWNER, amount=None if amount is None else D(amount),
        refunded_last_24h=D(last_24h), now=NOW, config=config,
    )  # fmt: skip
    expect(decision, allowed, rule, human)
    assert decision.amount == (None if decided is None else D(decided))


CANCEL = [
        (order(S.PROCESSING), "0", True, "cancel.unshipped", False),
        (order(S.PROCESSING), "2200.00", True, "cancel.unshipped", False),
        (order(S.PROCESSING), "2200.01", False, "refund.daily_cap", True),
        (order(S.PROCESSING, items=MIXED), "0", True, "cancel.unshipped", False),
        (order(S.SHIPPED), "0", False, "cancel.status.shipped", False),
        (order(S.DELIVERED), "0", False, "cancel.status.delivered", False),
        (order(S.PARTIALLY_REFUNDED, refunded="1.00"), "0", False,
         "cancel.status.partially_refunded", False),
        (order(S.REFUNDED, refunded="300.00"), "0", False, "cancel.status.refunded", False),
        (order(S.CANCELLED, refunded="300.00"), "0", False, "cancel.status.cancelled", False),
        (order(S.PROCESSING, owner=OTHER), "0", False, "ownership.not_found", False),
        (None, "0", False, "ownership.not_found", False),
]  # fmt: skip


@pytest.mark.parametrize(("target", "last_24h", "allowed", "rule", "human"), CANCEL)
def test_cancel_table(
    config: PolicyConfig,
    target: OrderRecord | None,
    last_24h: str,
    allowed: bool,
    rule: str,
    human: bool,
) -> None:
    decision = check_cancel(target, customer_id=OWNER, refunded_last_24h=D(last_24h), config=config)
    expect(decision, allowed, rule, human)
    if allowed:
        assert target is not None and decision.amount == refundable_amount(target) == D("300.00")


ADDRESS = "48 Harbor Road, Salem, MA 01970"


ADDRESS_CHANGES = [
        (order(S.PROCESSING), ADDRESS, True, "address.unshipped"),
        (order(S.PROCESSING), "9 Elm St.", False, "address.invalid"),  # 9 characters
        (order(S.PROCESSING), "  9 Elm St.  ", False, "address.invalid"),
        (order(S.PROCESSING), "10 Elm St.", True, "address.unshipped"),  # 10 characters
        *[(order(status), ADDRESS, False, f"address.status.{status.value}")
          for status in S if status != S.PROCESSING],
        (order(S.PROCESSING, owner=OTHER), ADDRESS, False, "ownership.not_found"),
        (None, ADDRESS, False, "ownership.not_found"),
]  # fmt: skip


@pytest.mark.parametrize(("target", "address", "allowed", "rule"), ADDRESS_CHANGES)
def test_address_table(
    config: PolicyConfig, target: OrderRecord | None, address: str, allowed: bool, rule: str
) -> None:
    decision = check_address_change(target, customer_id=OWNER, new_address=address, config=config)
    expect(decision, allowed, rule, False)


DANA = CustomerRecord(id=OWNER, name="Dana", email="dana.whitfield@example.com", created_at=NOW)


RESETS = [
        (DANA, True, None, True, "account.reset.email_on_file", False),
        (DANA, True, "dana.whitfield@example.com", True, "account.reset.email_on_file", False),
        (DANA, True, "  Dana.Whitfield@Example.com ", True, "account.reset.email_on_file", False),
        (DANA, True, "dana@attacker.example", False, "account.reset.email_not_on_file", False),
        (DANA, False, None, False, "account.recovery.human", True),
        (DANA, False, "new@example.com", False, "account.recovery.human", True),
        (None, True, None, False, "account.not_found", False),
]  # fmt: skip


@pytest.mark.parametrize(("customer", "access", "email", "allowed", "rule", "human"), RESETS)
def test_password_reset_table(
    customer: CustomerRecord | None,
    access: bool,
    email: str | None,
    allowed: bool,
    rule: str,
    human: bool,
) -> None:
    decision = check_password_reset(customer, has_email_access=access, requested_email=email)
    expect(decision, allowed, rule, human)
    assert decision.inputs["requested_email"] == email


@pytest.mark.parametrize("key", sorted(load_policy_config().escalation.always_escalate))
def test_every_always_escalate_entry_escalates(config: PolicyConfig, key: str) -> None:
    intent, _, sub_intent = key.partition(":")
    decision = must_escalate([("order_status", None), (intent, sub_intent or None)], turn=1,
                             config=config)  # fmt: skip
    expect(decision, False, f"escalate.always.{key}", False)


OWNERSHIP = [
    (order(), True, "ownership.ok"),
    (order(owner=OTHER), False, "ownership.not_found"),
    (None, False, "ownership.not_found"),
]


@pytest.mark.parametrize(("target", "allowed", "rule"), OWNERSHIP)
def test_ownership_table(target: OrderRecord | None, allowed: bool, rule: str) -> None:
    expect(check_ownership(target, OWNER), allowed, rule, False)


TURNS = [(6, True, "escalate.none"), (7, False, "escalate.too_many_turns")]


@pytest.mark.parametrize(("turn", "allowed", "rule"), TURNS)
def test_turn_limit(config: PolicyConfig, turn: int, allowed: bool, rule: str) -> None:
    expect(must_escalate([("refund", None)], turn=turn, config=config), allowed, rule, False)


def test_decisions_record_their_inputs_but_nothing_of_another_customer(
    config: PolicyConfig,
) -> None:
    partly = order(S.PARTIALLY_REFUNDED, refunded="100.00")
    mine = check_refund(partly, customer_id=OWNER, amount=D("50"), refunded_last_24h=D("10"),
                        now=NOW, config=config)  # fmt: skip
    assert mine.as_record()["inputs"] == {
        "order_id": "ORD-1", "status": "partially_refunded", "total": "300.00",
        "refunded_total": "100.00", "refundable": "200.00",
        "delivered_at": (NOW - timedelta(days=5)).isoformat(), "amount_requested": "50.00",
        "refunded_last_24h": "10.00", "now": NOW.isoformat(),
    }  # fmt: skip
    theirs = check_refund(order(owner=OTHER), customer_id=OWNER, amount=None,
                          refunded_last_24h=D(0), now=NOW, config=config)  # fmt: skip
    assert theirs.inputs["order_found"] is False
    assert not {"status", "total", "refundable"} & set(theirs.inputs)


def _with(config: PolicyConfig, **refunds: Any) -> PolicyConfig:
    return config.model_copy(update={"refunds": config.refunds.model_copy(update=refunds)})


@pytest.mark.parametrize(
    ("change", "target", "rule"),
    [
        ({"window_days": 3}, order(days=4), "refund.window.expired"),
        ({"auto_approve_ceiling": D("100.00")}, order(), "refund.needs_approval"),
        ({"daily_cap": D("299.99")}, order(), "refund.daily_cap"),
        ({"refundable_statuses": frozenset({"delivered"})},
         order(S.PARTIALLY_REFUNDED, refunded="1.00"), "refund.status.partially_refunded"),
    ],
)  # fmt: skip
def test_rules_follow_the_configuration(
    config: PolicyConfig, change: dict[str, Any], target: OrderRecord, rule: str
) -> None:
    def decide(cfg: PolicyConfig) -> str:
        return check_refund(target, customer_id=OWNER, amount=None, refunded_last_24h=D(0),
                            now=NOW, config=cfg).rule_id  # fmt: skip

    assert decide(config) == "refund.within_window"
    assert decide(_with(config, **change)) == rule


def test_policy_file_is_validated(tmp_path: Path) -> None:
    text = (POLICY_DIR / "policy.toml").read_text()
    changed = tmp_path / "policy.toml"
    changed.write_text(text.replace("window_days = 30", "window_days = 14"))
    assert load_policy_config(changed).refunds.window_days == 14
    for bad in ("window_days = -1", "window_days = 30\nsurprise = 1"):
        broken = tmp_path / f"bad{len(bad)}.toml"
        broken.write_text(text.replace("window_days = 30", bad))
        with pytest.raises(ValidationError):
            load_policy_config(broken)


def test_every_rule_in_policies_has_a_case() -> None:
    """Rule ids written in policies/*.py (f-string ids by their prefix) all appear above."""
    source = "\n".join(path.read_text() for path in POLICY_DIR.glob("*.py"))
    literal = set(re.findall(r'"((?:ownership|refund|cancel|address|account|escalate)\.[a-z_.]+)"',
                             source))  # fmt: skip
    prefixes = set(re.findall(r'f"((?:refund|cancel|address|escalate)\.[a-z_]+)\.\{', source))
    expected = {case[4] for case in REFUND.values()} | {"escalate.always.human_agent"}
    for table, column in (
        (CANCEL, 3),
        (ADDRESS_CHANGES, 3),
        (RESETS, 4),
        (TURNS, 2),
        (OWNERSHIP, 2),
    ):
        expected |= {str(case[column]) for case in table}
    assert literal - expected == set()
    for prefix in prefixes:
        assert any(rule.startswith(prefix + ".") for rule in expected), prefix


def test_split_refunds_still_reach_the_approval_ceiling(config: PolicyConfig) -> None:
    """$899 refunded as $450 + $449: the second part passes the ceiling with the first."""
    big = order(S.PARTIALLY_REFUNDED, total="899.00", refunded="450.00")
    decision = check_refund(
        big, customer_id=OWNER, amount=D("449.00"), refunded_last_24h=D("0"), now=NOW,
        config=config,
    )  # fmt: skip
    expect(decision, True, "refund.needs_approval", True)
    first = check_refund(
        order(total="899.00"), customer_id=OWNER, amount=D("450.00"),
        refunded_last_24h=D("0"), now=NOW, config=config,
    )  # fmt: skip
    expect(first, True, "refund.within_window", False)
