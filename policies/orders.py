"""Order policies: ownership, refunds, cancellation and address changes. Pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from policies.config import PolicyConfig
from policies.decision import PolicyDecision, allow, deny
from supportgraph.commerce.records import OrderRecord, OrderStatus

ZERO = Decimal("0.00")


def _owns(order: OrderRecord | None, customer_id: str) -> bool:
    return order is not None and order.customer_id == customer_id


def check_ownership(order: OrderRecord | None, customer_id: str) -> PolicyDecision:
    """The order exists and belongs to the customer; unknown and foreign look alike."""
    if not _owns(order, customer_id):
        decision = deny("ownership.not_found", "We couldn't find that order on your account.")
    else:
        decision = allow("ownership.ok", "The order belongs to the customer.")
    return decision.with_inputs(**order_inputs(order, customer_id))


def final_sale_total(order: OrderRecord) -> Decimal:
    """What the order's final-sale lines cost."""
    return sum((item.unit_price * item.quantity for item in order.items if item.final_sale), ZERO)


def refundable_amount(order: OrderRecord) -> Decimal:
    """Paid minus already refunded, never negative.

    Cancelling an unshipped order returns everything; once shipped, final-sale lines are
    not refundable.
    """
    eligible = order.total
    if order.status != OrderStatus.PROCESSING:
        eligible -= final_sale_total(order)
    return max(eligible - order.refunded_total, ZERO)


def order_inputs(order: OrderRecord | None, customer_id: str) -> dict[str, Any]:
    """The facts a decision about this order rests on; nothing of another customer's order."""
    if order is None or not _owns(order, customer_id):
        return {"order_found": False}
    return {
        "order_id": order.id,
        "status": order.status.value,
        "total": order.total,
        "refunded_total": order.refunded_total,
        "refundable": refundable_amount(order),
        "delivered_at": order.delivered_at,
    }


def check_refund(
    order: OrderRecord | None,
    *,
    customer_id: str,
    amount: Decimal | None,
    refunded_last_24h: Decimal,
    now: datetime,
    config: PolicyConfig,
) -> PolicyDecision:
    """Decide whether this order may be refunded by this amount (None: all that is left).

    Refusals come first, then what a person must approve (the daily cap, the auto-approve
    ceiling), so that a human is never asked to approve what policy forbids anyway.
    """
    owned = check_ownership(order, customer_id)
    decision = owned
    if owned.allowed and order is not None:
        refused = _refund_refusal(order, amount, now, config)
        decision = refused or _refund_approval(order, amount, refunded_last_24h, config)
    return decision.with_inputs(
        **order_inputs(order, customer_id),
        amount_requested=amount,
        refunded_last_24h=refunded_last_24h,
        now=now,
    )


def _refund_refusal(
    order: OrderRecord, amount: Decimal | None, now: datetime, config: PolicyConfig
) -> PolicyDecision | None:
    rules = config.refunds
    unshipped = order.status == OrderStatus.PROCESSING
    remaining = refundable_amount(order)
    if order.status not in rules.refundable_statuses:
        return deny(
            f"refund.status.{order.status}",
            f"Order {order.id} is {order.status.replace('_', ' ')}, so there is nothing to refund.",
        )
    if order.final_sale and not unshipped:
        return deny(
            "refund.final_sale", f"Order {order.id} is a final-sale item and can't be refunded."
        )
    if remaining <= 0:
        return deny("refund.nothing_left", f"Order {order.id} has already been refunded in full.")
    wanted = remaining if amount is None else amount
    if wanted <= 0:
        return deny("refund.amount.invalid", "A refund amount must be more than $0.00.")
    if wanted > remaining:
        return deny(
            "refund.amount.exceeds_refundable",
            f"At most ${remaining:,.2f} of order {order.id} can still be refunded.",
            amount=remaining,
        )
    if unshipped and wanted != remaining:
        return deny(
            "refund.unshipped.partial",
            f"Order {order.id} hasn't shipped yet: it can be cancelled for a full refund of "
            f"${remaining:,.2f}, but not refunded in part.",
            amount=remaining,
        )
    return None if unshipped else _window_refusal(order, now, config)


def _window_refusal(
    order: OrderRecord, now: datetime, config: PolicyConfig
) -> PolicyDecision | None:
    days = config.refunds.window_days
    if order.delivered_at is None:
        return deny("refund.not_delivered", f"Order {order.id} hasn't been delivered yet.")
    if now > order.delivered_at + timedelta(days=days):
        return deny(
            "refund.window.expired",
            f"Order {order.id} was delivered more than {days} days ago, "
            f"outside the {days}-day refund window.",
        )
    return None


def _refund_approval(
    order: OrderRecord, amount: Decimal | None, refunded_last_24h: Decimal, config: PolicyConfig
) -> PolicyDecision:
    rules = config.refunds
    amount = refundable_amount(order) if amount is None else amount
    over_cap = _over_daily_cap(amount, refunded_last_24h, config)
    if over_cap is not None:
        return over_cap
    if order.status == OrderStatus.PROCESSING:
        return allow(
            "refund.unshipped.cancel",
            f"Order {order.id} hasn't shipped yet, so it can be cancelled for a full refund "
            f"of ${amount:,.2f}.",
            amount=amount,
            details={"cancels_order": True},
        )
    # The ceiling counts what the order was already refunded, so splitting a large refund
    # into small ones still needs a person.
    if order.refunded_total + amount > rules.auto_approve_ceiling:
        return allow(
            "refund.needs_approval",
            f"Refunds over ${rules.auto_approve_ceiling:,.2f} are approved by a team member.",
            requires_human=True,
            amount=amount,
        )
    return allow(
        "refund.within_window",
        f"Order {order.id} is within the {rules.window_days}-day refund window; "
        f"${amount:,.2f} can be refunded to the original payment method.",
        amount=amount,
    )


def _over_daily_cap(
    amount: Decimal, refunded_last_24h: Decimal, config: PolicyConfig
) -> PolicyDecision | None:
    if refunded_last_24h + amount <= config.refunds.daily_cap:
        return None
    return deny(
        "refund.daily_cap",
        "This refund would pass the daily refund limit; a team member will review it.",
        requires_human=True,
        amount=amount,
    )


def check_cancel(
    order: OrderRecord | None,
    *,
    customer_id: str,
    refunded_last_24h: Decimal,
    config: PolicyConfig,
) -> PolicyDecision:
    """Decide whether this order may be cancelled (a cancellation refunds what was paid)."""
    decision = check_ownership(order, customer_id)
    if decision.allowed and order is not None:
        decision = _cancel_decision(order, refunded_last_24h, config)
    return decision.with_inputs(
        **order_inputs(order, customer_id), refunded_last_24h=refunded_last_24h
    )


def _cancel_decision(
    order: OrderRecord, refunded_last_24h: Decimal, config: PolicyConfig
) -> PolicyDecision:
    if order.status not in config.orders.cancellable_statuses:
        hint = " Once it's delivered you can return it." if order.status == "shipped" else ""
        return deny(
            f"cancel.status.{order.status}",
            f"Order {order.id} is {order.status.replace('_', ' ')} and can no longer be "
            f"cancelled.{hint}",
        )
    amount = refundable_amount(order)
    over_cap = _over_daily_cap(amount, refunded_last_24h, config)
    if over_cap is not None:
        return over_cap
    return allow(
        "cancel.unshipped",
        f"Order {order.id} hasn't shipped, so it can be cancelled and ${amount:,.2f} refunded.",
        amount=amount,
    )


def check_address_change(
    order: OrderRecord | None, *, customer_id: str, new_address: str, config: PolicyConfig
) -> PolicyDecision:
    """Decide whether the shipping address of this order may change."""
    decision = check_ownership(order, customer_id)
    if decision.allowed and order is not None:
        decision = _address_decision(order, new_address, config)
    return decision.with_inputs(**order_inputs(order, customer_id), new_address=new_address)


def _address_decision(order: OrderRecord, new_address: str, config: PolicyConfig) -> PolicyDecision:
    if order.status not in config.orders.address_change_statuses:
        return deny(
            f"address.status.{order.status}",
            f"Order {order.id} has already shipped, so its address can't be changed.",
        )
    if len(new_address.strip()) < config.orders.min_address_chars:
        return deny("address.invalid", "Please give the full new address, with street and city.")
    return allow("address.unshipped", f"Order {order.id} hasn't shipped; the address can change.")
