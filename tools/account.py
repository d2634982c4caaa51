"""Read tools: the current customer's orders, payments and shipping estimates."""

from __future__ import annotations

from typing import Any

from policies.orders import check_ownership, refundable_amount
from supportgraph.commerce.records import OrderRecord
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


def lookup_order(ctx: ToolContext, order_id: str) -> dict[str, Any] | None:
    """The customer's own order by id; another customer's order looks like no order."""
    order = ctx.backend.get_order(order_id.upper())
    if not check_ownership(order, ctx.customer_id).allowed or order is None:
        return None
    return order_facts(order)


def recent_orders(ctx: ToolContext, *, limit: int = 5) -> list[dict[str, Any]]:
    """The customer's newest orders."""
    return [order_facts(order) for order in ctx.backend.list_orders(ctx.customer_id, limit=limit)]


def list_payments(ctx: ToolContext, *, limit: int = 10) -> list[dict[str, Any]]:
    """The customer's charges and refunds, newest first."""
    return [
        {
            "payment_id": payment.id,
            "order_id": payment.order_id,
            "kind": payment.kind,
            "method": payment.method,
            "amount": f"{payment.amount:.2f}",
            "date": payment.created_at.date().isoformat(),
        }
        for payment in ctx.backend.list_payments(ctx.customer_id, limit=limit)
    ]
