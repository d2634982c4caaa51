"""Deterministic demo data: the hand-written fixtures plus generated customers and orders."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from supportgraph.commerce.demo_tables import DemoCustomer, DemoOrder, DemoOrderItem, DemoPayment
from supportgraph.db.engine import session_scope
from supportgraph.db.models import utcnow
from supportgraph.demo.fixtures import FIXTURE_CUSTOMERS

FIRST_NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Elena",
    "Farah",
    "Gabe",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Paula",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xin",
    "Yara",
    "Zane",
]
LAST_NAMES = [
    "Adams",
    "Baker",
    "Cruz",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Huang",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Young",
    "Zhou",
]
CATALOG: tuple[tuple[str, str, int], ...] = (
    ("EL-100", "Aurora 14 laptop", 129900),
    ("EL-101", "Nimbus wireless headphones", 14900),
    ("EL-102", "Bluetooth speaker", 8999),
    ("EL-103", "27-inch 4K monitor", 89900),
    ("EL-104", "USB-C charger", 2999),
    ("EL-105", "Smartwatch", 24900),
    ("EL-106", "Mechanical keyboard", 11900),
    ("HM-200", "Air purifier", 30000),
    ("HM-201", "Espresso machine", 22000),
    ("HM-202", "Desk lamp", 3900),
    ("HM-203", "Cast iron skillet", 4500),
    ("HM-204", "Linen bedding set", 15900),
    ("AP-300", "Trail running shoes", 6450),
    ("AP-301", "Rain jacket", 8900),
    ("AP-302", "Wool sweater", 7400),
    ("AP-303", "Yoga mat", 2900),
    ("GC-400", "Gift card", 5000),
)
STATUSES = ("processing", "shipped", "delivered", "cancelled", "refunded", "partially_refunded")
STATUS_WEIGHTS = (0.15, 0.15, 0.45, 0.08, 0.09, 0.08)
STREETS = [
    "Oak",
    "Maple",
    "Pine",
    "Cedar",
    "Walnut",
    "Spruce",
    "Willow",
    "Aspen",
    "Hickory",
    "Laurel",
]
CITIES = ("Denver, CO 80202", "Seattle, WA 98101", "Boston, MA 02108", "Atlanta, GA 30303")
PAYMENT_METHODS = ("visa", "mastercard", "amex", "paypal", "apple_pay")


@dataclass(frozen=True)
class SeedSummary:
    """What the seed wrote."""

    customers: int
    orders: int
    created: bool


def seed_demo_store(
    engine: Engine,
    *,
    customers: int = 200,
    orders: int = 1000,
    now: datetime | None = None,
    rng_seed: int = 7,
) -> SeedSummary:
    """Write the demo store once; a store that already has customers is left as it is."""
    with Session(engine) as session:
        if session.exec(select(DemoCustomer).limit(1)).first() is not None:
            n_customers = len(session.exec(select(DemoCustomer.id)).all())
            n_orders = len(session.exec(select(DemoOrder.id)).all())
            return SeedSummary(n_customers, n_orders, created=False)
    now = now or utcnow()
    rng = random.Random(rng_seed)
    rows: list[Any] = []
    for fixture in FIXTURE_CUSTOMERS:
        rows.extend(_fixture_rows(fixture, now))
    generated = [_generated_customer(rng, index, now) for index in range(customers)]
    rows.extend(generated)
    for index in range(orders):
        customer = generated[index % len(generated)]
        rows.extend(_generated_order(rng, index, customer, now))
    with session_scope(engine) as session:
        session.add_all(rows)
    return SeedSummary(customers + len(FIXTURE_CUSTOMERS), orders + _fixture_orders(), True)


def _fixture_orders() -> int:
    return sum(len(fixture["orders"]) for fixture in FIXTURE_CUSTOMERS)


def _fixture_rows(fixture: dict[str, Any], now: datetime) -> list[Any]:
    rows: list[Any] = [
        DemoCustomer(
            id=fixture["id"],
            name=fixture["name"],
            email=fixture["email"],
            phone=fixture["phone"],
            created_at=now - timedelta(days=400),
        )
    ]
    for order_id, item, cents, status, days_ago, extra in fixture["orders"]:
        sku = next((sku for sku, name, _ in CATALOG if name == item), "MISC-1")
        refunded = extra.get("refunded_cents", cents if status in ("cancelled", "refunded") else 0)
        rows.extend(
            _order_rows(
                order_id=order_id,
                customer_id=fixture["id"],
                address=fixture["address"],
                lines=[(sku, item, 1, cents, bool(extra.get("final_sale")))],
                status=status,
                created_at=now - timedelta(days=days_ago),
                shipped_ago=extra.get("shipped_ago", extra.get("delivered_ago", 0) + 3),
                delivered_ago=extra.get("delivered_ago"),
                refunded_cents=refunded,
                method="visa",
                now=now,
            )
        )
    return rows


def _generated_customer(rng: random.Random, index: int, now: datetime) -> DemoCustomer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return DemoCustomer(
        id=f"cust_{2000 + index}",
        name=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}{index}@example.com",
        phone=f"+1-555-{2000 + index:04d}",
        created_at=now - timedelta(days=rng.randint(30, 900)),
    )


def _generated_order(
    rng: random.Random, index: int, customer: DemoCustomer, now: datetime
) -> list[Any]:
    status = rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]
    lines = [
        (sku, name, rng.randint(1, 2) if price < 10000 else 1, price, sku.startswith("GC"))
        for sku, name, price in rng.sample(CATALOG, k=rng.choice((1, 1, 1, 2, 3)))
    ]
    total = sum(quantity * price for _, _, quantity, price, _ in lines)
    age = rng.randint(0, 3) if status == "processing" else rng.randint(4, 90)
    delivered_ago = (
        rng.randint(0, max(0, age - 3)) if status not in ("processing", "shipped") else None
    )
    refunded = {"cancelled": total, "refunded": total}.get(status, 0)
    if status == "partially_refunded":
        refunded = max(100, total // rng.choice((2, 3, 4)))
    if status == "cancelled":
        delivered_ago = None
    street = f"{rng.randint(1, 999)} {rng.choice(STREETS)} Street, {rng.choice(CITIES)}"
    return _order_rows(
        order_id=f"ORD-{20000 + index}",
        customer_id=customer.id,
        address=street,
        lines=lines,
        status=status,
        created_at=now - timedelta(days=age, hours=rng.randint(0, 23)),
        shipped_ago=max(0, age - 1),
        delivered_ago=delivered_ago,
        refunded_cents=refunded,
        method=rng.choice(PAYMENT_METHODS),
        now=now,
    )


def _order_rows(
    *,
    order_id: str,
    customer_id: str,
    address: str,
    lines: list[tuple[str, str, int, int, bool]],
    status: str,
    created_at: datetime,
    shipped_ago: int,
    delivered_ago: int | None,
    refunded_cents: int,
    method: str,
    now: datetime,
) -> list[Any]:
    total = sum(quantity * price for _, _, quantity, price, _ in lines)
    shipped = status not in ("processing", "cancelled")
    delivered = shipped and status != "shipped"
    order = DemoOrder(
        id=order_id,
        customer_id=customer_id,
        status=status,
        total_cents=total,
        refunded_cents=refunded_cents,
        shipping_address=address,
        tracking_number=f"1Z{order_id[4:]:0>8}US" if shipped else None,
        created_at=created_at,
        shipped_at=now - timedelta(days=shipped_ago) if shipped else None,
        delivered_at=now - timedelta(days=delivered_ago or 0) if delivered else None,
        estimated_delivery=(now + timedelta(days=2))
        if status in ("processing", "shipped")
        else None,
        updated_at=created_at,
    )
    rows: list[Any] = [order]
    rows.extend(
        DemoOrderItem(
            order_id=order_id,
            sku=sku,
            name=name,
            quantity=quantity,
            unit_price_cents=price,
            final_sale=final_sale,
        )
        for sku, name, quantity, price, final_sale in lines
    )
    rows.append(
        DemoPayment(
            id=f"pay_{order_id}_charge",
            order_id=order_id,
            customer_id=customer_id,
            kind="charge",
            method=method,
            amount_cents=total,
            created_at=created_at,
        )
    )
    if refunded_cents:
        rows.append(
            DemoPayment(
                id=f"pay_{order_id}_refund",
                order_id=order_id,
                customer_id=customer_id,
                kind="refund",
                method=method,
                amount_cents=refunded_cents,
                created_at=created_at + timedelta(days=1),
            )
        )
    return rows
