"""Order policies: ownership, refunds, cancellation and address changes. Pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from policies.config import PolicyConfig
from policies.decision import PolicyDecision, allow, deny
from supportgraph.commerce.records import OrderRecord, OrderStatus


def check_ownership(order: OrderRecord | None, customer_id: str) -> PolicyDecision:
    """The order exists and belongs to the customer; unknown and foreign look alike."""
    if order is None or order.customer_id != customer_id:
        return deny("ownership.not_found", "We couldn't find that order on your account.")
    return allow("ownership.ok", "The order belongs to the customer.")


def refundable_amount(order: OrderRecord) -> Decimal:
    """What is still refundable: paid minus already refunded, never negative."""
    return max(order.total - order.refunded_total, Decimal("0.00"))


def check_refund(
    order: OrderRecord | None,
    *,
    customer_id: str,
    amount: Decimal | None,
    refunded_last_24h: Decimal,
    now: datetime,
    config: PolicyConfig,
) -> PolicyDecision:
    """Decide whether this order may be refunded by this amount (None: all that is left)."""
    owned = check_ownership(order, customer_id)
    if not owned.allowed or order is None:
        return owned
    rules = config.refunds
    remaining = refundable_amount(order)
    if order.status not in rules.refundable_statuses:
        return deny(
            f"refund.status.{order.status}",
            f"Order {order.id} is {order.status.replace('_', ' ')}, so there is nothing to refund.",
        )
    if order.final_sale:
        return deny(
            "refund.final_sale", f"Order {order.id} is a final-sale item and can't be refunded."
        )
    if remaining <= 0:
        return deny("refund.nothing_left", f"Order {order.id} has already been refunded in full.")
    amount = remaining if amount is None else amount
    if amount <= 0:
        return deny("refund.amount.invalid", "A refund amount must be more than $0.00.")
    if amount > remaining:
        return deny(
            "refund.amount.exceeds_refundable",
            f"At most ${remaining:,.2f} of order {order.id} can still be refunded.",
            amount=remaining,
        )
    if refunded_last_24h + amount > rules.daily_cap:
        return deny(
            "refund.daily_cap",
            "This refund would pass the daily refund limit; a team member will review it.",
            requires_human=True,
            amount=amount,
        )
    if order.status == OrderStatus.PROCESSING:
        return allow(
            "refund.unshipped.cancel",
            f"Order {order.id} hasn't shipped yet, so it can be cancelled for a full refund "
            f"of ${amount:,.2f}.",
            amount=amount,
            details={"cancels_order": True},
        )
    return _check_delivered_refund(order, amount, now, config)


def _check_delivered_refund(
    order: OrderRecord, amount: Decimal, now: datetime, config: PolicyConfig
) -> PolicyDecision:
    rules = config.refunds
    if order.delivered_at is None:
        return deny("refund.not_delivered", f"Order {order.id} hasn't been delivered yet.")
    deadline = order.delivered_at + timedelta(days=rules.window_days)
    if now > deadline:
        return deny(
            "refund.window.expired",
            f"Order {order.id} was delivered more than {rules.window_days} days ago, "
            f"outside the {rules.window_days}-day refund window.",
        )
    if amount > rules.auto_approve_ceiling:
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


def check_cancel(
    order: OrderRecord | None, *, customer_id: str, config: PolicyConfig
) -> PolicyDecision:
    """Decide whether this order may be cancelled."""
    owned = check_ownership(order, customer_id)
    if not owned.allowed or order is None:
        return owned
    if order.status not in config.orders.cancellable_statuses:
        hint = " Once it's delivered you can return it." if order.status == "shipped" else ""
        return deny(
            f"cancel.status.{order.status}",
            f"Order {order.id} is {order.status.replace('_', ' ')} and can no longer be "
            f"cancelled.{hint}",
        )
    return allow(
        "cancel.unshipped",
        f"Order {order.id} hasn't shipped, so it can be cancelled and "
        f"${order.total:,.2f} refunded.",
        amount=refundable_amount(order),
    )


def check_address_change(
    order: OrderRecord | None, *, customer_id: str, new_address: str, config: PolicyConfig
) -> PolicyDecision:
    """Decide whether the shipping address of this order may change."""
    owned = check_ownership(order, customer_id)
    if not owned.allowed or order is None:
        return owned
    if order.status not in config.orders.address_change_statuses:
        return deny(
            f"address.status.{order.status}",
            f"Order {order.id} has already shipped, so its address can't be changed.",
        )
    if len(new_address.strip()) < 10:
        return deny("address.invalid", "Please give the full new address, with street and city.")
    return allow("address.unshipped", f"Order {order.id} hasn't shipped; the address can change.")
