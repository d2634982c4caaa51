"""Typed, immutable views of commerce data, shared by every backend implementation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class OrderStatus(StrEnum):
    """Every state an order can be in."""

    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class CustomerRecord(_Record):
    """A customer as the backend knows them."""

    id: str
    name: str
    email: str
    phone: str | None = None
    created_at: datetime


class OrderItemRecord(_Record):
    """One line of an order."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    final_sale: bool = False


class OrderRecord(_Record):
    """An order with its lines and money so far."""

    id: str
    customer_id: str
    status: OrderStatus
    items: tuple[OrderItemRecord, ...]
    total: Decimal
    refunded_total: Decimal
    currency: str = "USD"
    shipping_method: str
    shipping_address: str
    tracking_number: str | None = None
    note: str | None = None
    created_at: datetime
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    estimated_delivery: datetime | None = None

    @property
    def description(self) -> str:
        """A short human description of what was ordered."""
        names = [item.name for item in self.items]
        return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more item(s)"

    @property
    def final_sale(self) -> bool:
        """True when every line is final sale (nothing refundable)."""
        return all(item.final_sale for item in self.items)


class PaymentRecord(_Record):
    """A payment or refund movement on an order."""

    id: str
    order_id: str
    kind: str
    method: str
    amount: Decimal
    status: str
    created_at: datetime


class ActionEffect(_Record):
    """What a backend did for one action id: the evidence a reconciler settles an action on."""

    action_id: str
    kind: str  # refund, password_reset, address_change
    customer_id: str
    order_id: str | None = None
    details: dict[str, str]
    created_at: datetime
