"""The interface between the agent's tools and a company's commerce systems."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from supportgraph.commerce.records import (
    ActionEffect,
    CustomerRecord,
    OrderRecord,
    PaymentRecord,
)


class BackendError(RuntimeError):
    """A backend refused or failed an operation; the message is safe to show to an agent."""


class CommerceBackend(Protocol):
    """What the tools need from a commerce system. Implement it against your own APIs.

    Writes take the action id that the caller recorded first, so an implementation can
    use it as its own idempotency key, and must answer ``effect_of`` for it afterwards: that
    is how an action interrupted by a crash is settled without being performed twice.
    """

    def get_customer(self, customer_id: str) -> CustomerRecord | None:
        """The customer, or None when unknown."""
        ...

    def get_order(self, order_id: str) -> OrderRecord | None:
        """The order, or None when unknown (ownership is checked by policy, not here)."""
        ...

    def list_orders(self, customer_id: str, *, limit: int = 10) -> list[OrderRecord]:
        """The customer's orders, newest first."""
        ...

    def list_payments(self, customer_id: str, *, limit: int = 20) -> list[PaymentRecord]:
        """The customer's payments and refunds, newest first."""
        ...

    def refunded_since(self, customer_id: str, since: datetime) -> Decimal:
        """Total refunded to the customer since a moment (for the daily cap)."""
        ...

    def refund(self, order_id: str, amount: Decimal, *, action_id: str) -> OrderRecord:
        """Refund an amount to the original payment method; cancels an unshipped order."""
        ...

    def cancel_order(self, order_id: str, *, action_id: str) -> OrderRecord:
        """Cancel an unshipped order and refund what was paid."""
        ...

    def send_password_reset(self, customer_id: str, *, action_id: str) -> str:
        """Send a reset link to the email on file; returns the (masked) address used."""
        ...

    def update_shipping_address(
        self, order_id: str, address: str, *, action_id: str
    ) -> OrderRecord:
        """Change where an unshipped order goes."""
        ...

    def effect_of(self, action_id: str) -> ActionEffect | None:
        """What the write with this action id did, or None when it never happened."""
        ...
