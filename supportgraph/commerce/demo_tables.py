"""Tables of the demo store: customers, orders with items, payments and refunds, sent emails.

Money is stored in integer cents so that SQLite and PostgreSQL agree to the cent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from supportgraph.db.models import utcnow


class DemoCustomer(SQLModel, table=True):
    """A customer of the demo store."""

    id: str = Field(primary_key=True, max_length=64)
    name: str
    email: str = Field(index=True)
    phone: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class DemoOrder(SQLModel, table=True):
    """An order of the demo store."""

    id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(foreign_key="democustomer.id", index=True, max_length=64)
    status: str = Field(index=True, max_length=32)
    total_cents: int
    refunded_cents: int = 0
    currency: str = "USD"
    shipping_method: str = "standard"
    shipping_address: str
    tracking_number: str | None = None
    note: str | None = None
    created_at: datetime
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    estimated_delivery: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class DemoOrderItem(SQLModel, table=True):
    """A line of a demo order."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="demoorder.id", index=True, max_length=64)
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    final_sale: bool = False


class DemoPayment(SQLModel, table=True):
    """A charge (positive) or refund (kind='refund') on a demo order."""

    id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(foreign_key="demoorder.id", index=True, max_length=64)
    customer_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=16, description="charge or refund")
    method: str
    amount_cents: int
    status: str = "succeeded"
    action_id: str | None = Field(default=None, unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class DemoEmail(SQLModel, table=True):
    """An email the demo store sent (password reset links and the like)."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(index=True, max_length=64)
    to_email: str
    kind: str
    action_id: str | None = Field(default=None, unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class DemoActionLog(SQLModel, table=True):
    """Every write the demo store performed, keyed by the caller's action id.

    Written in the same transaction as the write itself, so it is the store's own answer to
    "did this action happen?" (and its primary key makes each action id perform once).
    """

    action_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    customer_id: str = Field(index=True, max_length=64)
    order_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow)
