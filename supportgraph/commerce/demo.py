"""The demo store: a CommerceBackend over tables in the agent's own database."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from supportgraph.commerce.backend import BackendError
from supportgraph.commerce.demo_tables import (
    DemoCustomer,
    DemoEmail,
    DemoOrder,
    DemoOrderItem,
    DemoPayment,
)
from supportgraph.commerce.records import (
    CustomerRecord,
    OrderItemRecord,
    OrderRecord,
    OrderStatus,
    PaymentRecord,
)
from supportgraph.db.engine import session_scope
from supportgraph.db.models import new_id, utcnow

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


class DemoStore:
    """The demo commerce backend. Every write is atomic and keyed by the caller's action id."""

    def __init__(self, engine: Engine) -> None:
        """Use the given engine (the same database as the support records)."""
        self._engine = engine

    def get_customer(self, customer_id: str) -> CustomerRecord | None:
        """The customer, or None when unknown."""
        with Session(self._engine) as session:
            row = session.get(DemoCustomer, customer_id)
            return CustomerRecord.model_validate(row, from_attributes=True) if row else None

    def get_order(self, order_id: str) -> OrderRecord | None:
        """The order with its lines, or None when unknown."""
        with Session(self._engine) as session:
            row = session.get(DemoOrder, order_id)
            return self._order_record(session, row) if row else None

    def list_orders(self, customer_id: str, *, limit: int = 10) -> list[OrderRecord]:
        """The customer's orders, newest first."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(DemoOrder)
                .where(DemoOrder.customer_id == customer_id)
                .order_by(col(DemoOrder.created_at).desc())
                .limit(limit)
            ).all()
            return [self._order_record(session, row) for row in rows]

    def list_payments(self, customer_id: str, *, limit: int = 20) -> list[PaymentRecord]:
        """The customer's charges and refunds, newest first."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(DemoPayment)
                .where(DemoPayment.customer_id == customer_id)
                .order_by(col(DemoPayment.created_at).desc())
                .limit(limit)
            ).all()
            return [
                PaymentRecord(
                    id=row.id,
                    order_id=row.order_id,
                    kind=row.kind,
                    method=row.method,
                    amount=from_cents(row.amount_cents),
                    status=row.status,
                    created_at=row.created_at,
                )
                for row in rows
            ]

    def refunded_since(self, customer_id: str, since: datetime) -> Decimal:
        """Total refunded to the customer since a moment."""
        with Session(self._engine) as session:
            cents = session.exec(
                select(func.coalesce(func.sum(DemoPayment.amount_cents), 0)).where(
                    DemoPayment.customer_id == customer_id,
                    DemoPayment.kind == "refund",
                    DemoPayment.created_at >= since,
                )
            ).one()
            return from_cents(int(cents))

    def refund(self, order_id: str, amount: Decimal, *, action_id: str) -> OrderRecord:
        """Refund part or all of an order; refunding an unshipped order cancels it.

        The refundable amount is checked again in the same UPDATE that books the refund,
        so concurrent refunds can never exceed what was paid.
        """
        cents = to_cents(amount)
        if cents <= 0:
            raise BackendError("refund amount must be positive")
        with session_scope(self._engine) as session:
            if self._already_done(session, DemoPayment, action_id):
                return self._reload(session, order_id)
            order = session.get(DemoOrder, order_id)
            if order is None:
                raise BackendError(f"order {order_id} not found")
            new_status = self._status_after_refund(order, cents)
            booked = session.execute(
                update(DemoOrder)
                .where(
                    col(DemoOrder.id) == order_id,
                    col(DemoOrder.refunded_cents) + cents <= col(DemoOrder.total_cents),
                    col(DemoOrder.status) == order.status,
                )
                .values(
                    refunded_cents=col(DemoOrder.refunded_cents) + cents,
                    status=new_status,
                    updated_at=utcnow(),
                )
            )
            if booked.rowcount != 1:  # type: ignore[attr-defined]
                raise BackendError(f"order {order_id} cannot be refunded by {amount}")
            session.add(
                DemoPayment(
                    id=new_id("pay"),
                    order_id=order_id,
                    customer_id=order.customer_id,
                    kind="refund",
                    method=self._charge_method(session, order_id),
                    amount_cents=cents,
                    action_id=action_id,
                )
            )
            self._flush_unique(session, action_id)
            return self._reload(session, order_id)

    def cancel_order(self, order_id: str, *, action_id: str) -> OrderRecord:
        """Cancel an unshipped order, refunding everything paid."""
        order = self.get_order(order_id)
        if order is None:
            raise BackendError(f"order {order_id} not found")
        if order.status != OrderStatus.PROCESSING:
            raise BackendError(f"order {order_id} is {order.status} and cannot be cancelled")
        return self.refund(order_id, order.total - order.refunded_total, action_id=action_id)

    def send_password_reset(self, customer_id: str, *, action_id: str) -> str:
        """Queue a reset email to the address on file."""
        with session_scope(self._engine) as session:
            customer = session.get(DemoCustomer, customer_id)
            if customer is None:
                raise BackendError(f"customer {customer_id} not found")
            if not self._already_done(session, DemoEmail, action_id):
                session.add(
                    DemoEmail(
                        customer_id=customer_id,
                        to_email=customer.email,
                        kind="password_reset",
                        action_id=action_id,
                    )
                )
                self._flush_unique(session, action_id)
            return mask_email(customer.email)

    def update_shipping_address(
        self, order_id: str, address: str, *, action_id: str
    ) -> OrderRecord:
        """Change the address of an order that has not shipped."""
        with session_scope(self._engine) as session:
            changed = session.execute(
                update(DemoOrder)
                .where(
                    col(DemoOrder.id) == order_id,
                    col(DemoOrder.status) == OrderStatus.PROCESSING.value,
                )
                .values(shipping_address=address, updated_at=utcnow())
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise BackendError(f"order {order_id} is not awaiting shipment")
            return self._reload(session, order_id)

    @staticmethod
    def _status_after_refund(order: DemoOrder, cents: int) -> str:
        if order.status == OrderStatus.PROCESSING:
            return OrderStatus.CANCELLED.value
        if order.refunded_cents + cents >= order.total_cents:
            return OrderStatus.REFUNDED.value
        return OrderStatus.PARTIALLY_REFUNDED.value

    @staticmethod
    def _already_done(
        session: Session, table: type[DemoPayment] | type[DemoEmail], action_id: str
    ) -> bool:
        found = session.exec(select(table).where(table.action_id == action_id)).first()
        return found is not None

    @staticmethod
    def _flush_unique(session: Session, action_id: str) -> None:
        try:
            session.flush()
        except IntegrityError as exc:
            raise BackendError(f"action {action_id} was already performed") from exc

    @staticmethod
    def _charge_method(session: Session, order_id: str) -> str:
        charge = session.exec(
            select(DemoPayment).where(
                DemoPayment.order_id == order_id, DemoPayment.kind == "charge"
            )
        ).first()
        return charge.method if charge else "original payment method"

    def _reload(self, session: Session, order_id: str) -> OrderRecord:
        session.flush()
        row = session.get(DemoOrder, order_id, populate_existing=True)
        if row is None:
            raise BackendError(f"order {order_id} not found")
        return self._order_record(session, row)

    @staticmethod
    def _order_record(session: Session, row: DemoOrder) -> OrderRecord:
        items = session.exec(select(DemoOrderItem).where(DemoOrderItem.order_id == row.id)).all()
        return OrderRecord(
            id=row.id,
            customer_id=row.customer_id,
            status=OrderStatus(row.status),
            items=tuple(
                OrderItemRecord(
                    sku=item.sku,
                    name=item.name,
                    quantity=item.quantity,
                    unit_price=from_cents(item.unit_price_cents),
                    final_sale=item.final_sale,
                )
                for item in items
            ),
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
