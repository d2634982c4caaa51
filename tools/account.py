"""Read tools: the current customer's orders, shipping estimates, payments and invoices.

Another customer's order reads exactly like a missing one; the attempt is recorded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from policies.orders import check_ownership, refundable_amount
from policies.shipping import estimate_delivery
from supportgraph.commerce.records import OrderRecord
from tools.audit import record_decision
from tools.context import ToolContext


def order_facts(order: OrderRecord) -> dict[str, Any]:
    """The facts about an order that answers may state (JSON-safe)."""
    return {
        "order_id": order.id,
        "status": order.status.value,
        "description": order.description,
        "items": [item.name for item in order.items],
        "total": f"{order.total:.2f}",
        "refunded_total": f"{order.refunded_total:.2f}",
        "refundable": f"{refundable_amount(order):.2f}",
        "ordered_on": order.created_at.date().isoformat(),
        "shipped_on": order.shipped_at.date().isoformat() if order.shipped_at else None,
        "delivered_on": order.delivered_at.date().isoformat() if order.delivered_at else None,
        "estimated_delivery": (
            order.estimated_delivery.date().isoformat() if order.estimated_delivery else None
        ),
        "tracking_number": order.tracking_number,
        "shipping_method": order.shipping_method,
        "final_sale": order.final_sale,
    }


def owned_order(ctx: ToolContext, tool: str, order_id: str) -> OrderRecord | None:
    """The customer's own order; another customer's is None, and the attempt is recorded."""
    order_id = order_id.strip().upper()
    order = ctx.backend.get_order(order_id)
    decision = check_ownership(order, ctx.customer_id)
    if decision.allowed and order is not None:
        return order
    if order is not None:  # a real cross-account attempt, not a typo
        record_decision(ctx, tool, {"order_id": order_id}, decision)
    return None


def lookup_order(ctx: ToolContext, order_id: str) -> dict[str, Any] | None:
    """The customer's own order by id; another customer's order looks like no order."""
    order = owned_order(ctx, "lookup_order", order_id)
    return _with_shipping_window(ctx, order) if order else None


def shipping_eta(ctx: ToolContext, order_id: str) -> dict[str, Any] | None:
    """Where the customer's order is on its way, and when it is expected."""
    order = owned_order(ctx, "shipping_eta", order_id)
    if order is None:
        return None
    facts = order_facts(order)
    keys = ("order_id", "status", "shipping_method", "shipped_on", "estimated_delivery")
    return {
        **{key: facts[key] for key in (*keys, "delivered_on", "tracking_number")},
        "estimate": _estimate_view(ctx, order),
    }


def _estimate_view(ctx: ToolContext, order: OrderRecord) -> dict[str, Any]:
    """The policy's shipping and delivery window for the order, JSON-safe."""

    def day(moment: datetime | None) -> date | None:
        return moment.date() if moment else None

    estimate = estimate_delivery(
        status=order.status.value,
        method=order.shipping_method,
        ordered_on=order.created_at.date(),
        shipped_on=day(order.shipped_at),
        # A carrier's date means something only once the parcel is with the carrier.
        carrier_estimate=day(order.estimated_delivery) if order.shipped_at else None,
        delivered_on=day(order.delivered_at),
        today=ctx.clock().date(),
        policy=ctx.policy.shipping,
    )

    def span(window: tuple[date, date] | None) -> list[str] | None:
        return [window[0].isoformat(), window[1].isoformat()] if window else None

    return {
        "ships_between": span(estimate.ships_between),
        "arrives_between": span(estimate.arrives_between),
        "rule_id": estimate.rule_id,
        "basis": estimate.basis,
    }


def recent_orders(ctx: ToolContext, *, limit: int = 5) -> list[dict[str, Any]]:
    """The customer's newest orders."""
    return [
        _with_shipping_window(ctx, order)
        for order in ctx.backend.list_orders(ctx.customer_id, limit=limit)
    ]


def _with_shipping_window(ctx: ToolContext, order: OrderRecord) -> dict[str, Any]:
    """The order's facts; one not yet shipped also says when the policy has it ship."""
    facts = order_facts(order)
    if facts["status"] == "processing":
        facts["processing_days"] = list(ctx.policy.shipping.processing_days)
        facts["ships_between"] = _estimate_view(ctx, order)["ships_between"]
    return facts


def list_payments(
    ctx: ToolContext, *, order_id: str | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """The customer's charges and refunds, newest first; of one of their orders if named."""
    if order_id is not None:
        order = owned_order(ctx, "list_payments", order_id)
        if order is None:
            return []
        order_id = order.id
    payments = ctx.backend.list_payments(ctx.customer_id, limit=limit if order_id is None else 100)
    return [
        {
            "payment_id": payment.id,
            "order_id": payment.order_id,
            "kind": payment.kind,
            "method": payment.method,
            "amount": f"{payment.amount:.2f}",
            "date": payment.created_at.date().isoformat(),
        }
        for payment in payments
        if order_id is None or payment.order_id == order_id
    ][:limit]


def list_invoices(ctx: ToolContext, *, limit: int = 10) -> list[dict[str, Any]]:
    """One invoice line per order of the customer: what was charged and refunded."""
    return [
        {
            "order_id": order.id,
            "date": order.created_at.date().isoformat(),
            "description": order.description,
            "total": f"{order.total:.2f}",
            "refunded_total": f"{order.refunded_total:.2f}",
            "currency": order.currency,
            "status": order.status.value,
        }
        for order in ctx.backend.list_orders(ctx.customer_id, limit=limit)
    ]
