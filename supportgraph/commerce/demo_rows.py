"""Conversions between the demo store's rows and the backend's records."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlmodel import Session, col, func, select

from supportgraph.commerce.demo_tables import DemoActionLog, DemoOrder, DemoOrderItem, DemoPayment
from supportgraph.commerce.records import (
    ActionEffect,
    OrderItemRecord,
    OrderRecord,
    OrderStatus,
    PaymentRecord,
)

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> int:
    """Decimal dollars → integer cents (exact for amounts with at most two decimals)."""
    return int((amount / CENT).to_integral_exact())


def from_cents(cents: int) -> Decimal:
    """Integer cents → Decimal dollars."""
    return (Decimal(cents) * CENT).quantize(CENT)


def mask_email(email: str) -> str:
    """d***@example.com: enough for the customer to recognise it, not to harvest it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def refund_ceiling_cents(session: Session, order: DemoOrder) -> int:
    """The most that may ever be refunded on an order.

    What was paid, less final-sale lines once it has shipped: the rule
    ``policies.orders.refundable_amount`` states, enforced here by the database.
    """
    if order.status == OrderStatus.PROCESSING:
        return order.total_cents
    final_sale = session.exec(
        select(
            func.coalesce(func.sum(DemoOrderItem.quantity * DemoOrderItem.unit_price_cents), 0)
        ).where(DemoOrderItem.order_id == order.id, col(DemoOrderItem.final_sale).is_(True))
    ).one()
    return order.total_cents - int(final_sale)


def status_after_refund(order: DemoOrder, cents: int) -> str:
    """An unshipped order is cancelled; a shipped one is refunded in full or in part."""
    if order.status == OrderStatus.PROCESSING:
        return OrderStatus.CANCELLED.value
    if order.refunded_cents + cents >= order.total_cents:
        return OrderStatus.REFUNDED.value
    return OrderStatus.PARTIALLY_REFUNDED.value


def charge_method(session: Session, order_id: str) -> str:
    """How the order was paid (refunds go back the same way)."""
    charge = session.exec(
        select(DemoPayment).where(DemoPayment.order_id == order_id, DemoPayment.kind == "charge")
    ).first()
    return charge.method if charge else "original payment method"


def order_record(session: Session, row: DemoOrder) -> OrderRecord:
    """An order row with its lines as a record."""
    return order_records(session, [row])[0]


def order_records(session: Session, rows: Sequence[DemoOrder]) -> list[OrderRecord]:
    """Order rows with their lines as records, the lines of all of them read in one query."""
    lines: dict[str, list[OrderItemRecord]] = {row.id: [] for row in rows}
    if lines:
        items = session.exec(
            select(DemoOrderItem)
            .where(col(DemoOrderItem.order_id).in_(list(lines)))
            .order_by(col(DemoOrderItem.id))
        ).all()
        for item in items:
            lines[item.order_id].append(
                OrderItemRecord(
                    sku=item.sku,
                    name=item.name,
                    quantity=item.quantity,
                    unit_price=from_cents(item.unit_price_cents),
                    final_sale=item.final_sale,
                )
            )
    return [_order_record(row, tuple(lines[row.id])) for row in rows]


def _order_record(row: DemoOrder, items: tuple[OrderItemRecord, ...]) -> OrderRecord:
    return OrderRecord(
        id=row.id,
        customer_id=row.customer_id,
        status=OrderStatus(row.status),
        items=items,
        total=from_cents(row.total_cents),
        refunded_total=from_cents(row.refunded_cents),
        currency=row.currency,
        shipping_method=row.shipping_method,
        shipping_address=row.shipping_address,
        tracking_number=row.tracking_number,
        note=row.note,
        created_at=row.created_at,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        estimated_delivery=row.estimated_delivery,
    )


def payment_record(row: DemoPayment) -> PaymentRecord:
    """A payment row as a record."""
    return PaymentRecord(
        id=row.id,
        order_id=row.order_id,
        kind=row.kind,
        method=row.method,
        amount=from_cents(row.amount_cents),
        status=row.status,
        created_at=row.created_at,
    )


def effect_record(row: DemoActionLog) -> ActionEffect:
    """A logged write as a record."""
    return ActionEffect(
        action_id=row.action_id,
        kind=row.kind,
        customer_id=row.customer_id,
        order_id=row.order_id,
        details={key: str(value) for key, value in row.details.items()},
        created_at=row.created_at,
    )
