"""The demo store: a CommerceBackend over tables in the agent's own database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from supportgraph.commerce.backend import BackendError
from supportgraph.commerce.demo_rows import (
    charge_method,
    effect_record,
    from_cents,
    mask_email,
    order_record,
    order_records,
    payment_record,
    refund_ceiling_cents,
    status_after_refund,
    to_cents,
)
from supportgraph.commerce.demo_tables import (
    DemoActionLog,
    DemoCustomer,
    DemoEmail,
    DemoOrder,
    DemoPayment,
)
from supportgraph.commerce.records import (
    ActionEffect,
    CustomerRecord,
    OrderRecord,
    OrderStatus,
    PaymentRecord,
)
from supportgraph.db.engine import session_scope
from supportgraph.db.models import new_id, utcnow


class _AlreadyPerformed(Exception):
    """Another call with the same action id committed first."""


class DemoStore:
    """The demo commerce backend. Every write is atomic, logged, and keyed by an action id."""

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
            return order_record(session, row) if row else None

    def list_orders(self, customer_id: str, *, limit: int = 10) -> list[OrderRecord]:
        """The customer's orders, newest first."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(DemoOrder)
                .where(DemoOrder.customer_id == customer_id)
                .order_by(col(DemoOrder.created_at).desc())
                .limit(limit)
            ).all()
            return order_records(session, rows)

    def list_payments(self, customer_id: str, *, limit: int = 20) -> list[PaymentRecord]:
        """The customer's charges and refunds, newest first."""
        with Session(self._engine) as session:
            rows = session.exec(
                select(DemoPayment)
                .where(DemoPayment.customer_id == customer_id)
                .order_by(col(DemoPayment.created_at).desc())
                .limit(limit)
            ).all()
            return [payment_record(row) for row in rows]

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

    def effect_of(self, action_id: str) -> ActionEffect | None:
        """What the write with this action id did, or None when it never happened."""
        with Session(self._engine) as session:
            row = session.get(DemoActionLog, action_id)
            return effect_record(row) if row else None

    def refund(self, order_id: str, amount: Decimal, *, action_id: str) -> OrderRecord:
        """Refund part or all of an order; refunding an unshipped order cancels it in full.

        The refundable ceiling is checked again in the same UPDATE that books the refund,
        so concurrent refunds, whatever their action ids, never exceed it.
        """
        cents = to_cents(amount)
        if cents <= 0:
            raise BackendError("refund amount must be positive")
        self._perform_once(action_id, lambda s: self._book_refund(s, order_id, cents, action_id))
        return self._current(order_id)

    def _book_refund(self, session: Session, order_id: str, cents: int, action_id: str) -> None:
        order = session.get(DemoOrder, order_id)
        if order is None:
            raise BackendError(f"order {order_id} not found")
        unshipped = order.status == OrderStatus.PROCESSING
        if unshipped and cents != order.total_cents - order.refunded_cents:
            raise BackendError(f"order {order_id} has not shipped: it is cancelled in full or not")
        new_status = status_after_refund(order, cents)
        booked = session.execute(
            update(DemoOrder)
            .where(
                col(DemoOrder.id) == order_id,
                col(DemoOrder.refunded_cents) + cents <= refund_ceiling_cents(session, order),
                col(DemoOrder.status) == order.status,
            )
            .values(
                refunded_cents=col(DemoOrder.refunded_cents) + cents,
                status=new_status,
                updated_at=utcnow(),
            )
        )
        if booked.rowcount != 1:  # type: ignore[attr-defined]
            raise BackendError(f"order {order_id} cannot be refunded by {from_cents(cents)}")
        session.add(
            DemoPayment(
                id=new_id("pay"),
                order_id=order_id,
                customer_id=order.customer_id,
                kind="refund",
                method=charge_method(session, order_id),
                amount_cents=cents,
                action_id=action_id,
            )
        )
        details = {"amount": str(from_cents(cents)), "order_status": new_status}
        self._log(session, action_id, "refund", order.customer_id, order_id, details)

    def cancel_order(self, order_id: str, *, action_id: str) -> OrderRecord:
        """Cancel an unshipped order, refunding everything paid."""
        if self.effect_of(action_id) is not None:
            return self._current(order_id)
        order = self._current(order_id)
        if order.status != OrderStatus.PROCESSING:
            raise BackendError(f"order {order_id} is {order.status} and cannot be cancelled")
        return self.refund(order_id, order.total - order.refunded_total, action_id=action_id)

    def send_password_reset(self, customer_id: str, *, action_id: str) -> str:
        """Queue a reset email to the address on file; returns the masked address."""

        def send(session: Session) -> None:
            customer = session.get(DemoCustomer, customer_id)
            if customer is None:
                raise BackendError(f"customer {customer_id} not found")
            session.add(
                DemoEmail(
                    customer_id=customer_id,
                    to_email=customer.email,
                    kind="password_reset",
                    action_id=action_id,
                )
            )
            details = {"sent_to": mask_email(customer.email)}
            self._log(session, action_id, "password_reset", customer_id, None, details)

        self._perform_once(action_id, send)
        effect = self.effect_of(action_id)
        assert effect is not None
        return effect.details["sent_to"]

    def update_shipping_address(
        self, order_id: str, address: str, *, action_id: str
    ) -> OrderRecord:
        """Change the address of an order that has not shipped."""

        def move(session: Session) -> None:
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
            order = session.get(DemoOrder, order_id)
            assert order is not None
            details = {"address": address}
            self._log(session, action_id, "address_change", order.customer_id, order_id, details)

        self._perform_once(action_id, move)
        return self._current(order_id)

    def _perform_once(self, action_id: str, write: Callable[[Session], None]) -> None:
        """Run a write in one transaction unless this action id already performed it."""
        if self.effect_of(action_id) is not None:
            return
        try:
            with session_scope(self._engine) as session:
                write(session)
        except _AlreadyPerformed:
            pass  # a concurrent call with the same id committed first: its effect stands

    def _current(self, order_id: str) -> OrderRecord:
        order = self.get_order(order_id)
        if order is None:
            raise BackendError(f"order {order_id} not found")
        return order

    @staticmethod
    def _log(
        session: Session,
        action_id: str,
        kind: str,
        customer_id: str,
        order_id: str | None,
        details: dict[str, str],
    ) -> None:
        """Journal the write in its own transaction; a second write with the id fails here."""
        session.add(
            DemoActionLog(
                action_id=action_id,
                kind=kind,
                customer_id=customer_id,
                order_id=order_id,
                details=details,
            )
        )
        try:
            session.flush()
        except IntegrityError as exc:
            raise _AlreadyPerformed(action_id) from exc
