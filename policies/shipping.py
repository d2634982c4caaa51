"""When an order ships and arrives: computed from its state, its dates and the shipping policy.

Pure: the dates come in, a range of dates and the rule behind it go out. Nothing is guessed:
a carrier's own estimate wins for an order in transit, and an order that will not arrive
gets no date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from policies.config import ShippingPolicy


@dataclass(frozen=True)
class ShippingEstimate:
    """Where an order is, and the days it should ship and arrive (None: not applicable)."""

    status: str
    ships_between: tuple[date, date] | None
    arrives_between: tuple[date, date] | None
    rule_id: str
    basis: str


def add_business_days(start: date, days: int) -> date:
    """``days`` working days (Monday-Friday) after ``start``."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _next_business_day(day: date) -> date:
    return day if day.weekday() < 5 else add_business_days(day, 1)


def estimate_delivery(
    *,
    status: str,
    method: str,
    ordered_on: date,
    shipped_on: date | None,
    delivered_on: date | None,
    carrier_estimate: date | None,
    today: date,
    policy: ShippingPolicy,
) -> ShippingEstimate:
    """The shipping and delivery window of one order."""
    fewest, most = policy.transit_days.get(method, policy.transit_days["standard"])
    if status in ("delivered", "partially_refunded") and delivered_on is not None:
        return ShippingEstimate(
            status, None, (delivered_on, delivered_on), "shipping.delivered", "delivered"
        )
    if status == "shipped" and shipped_on is not None:
        if carrier_estimate is not None:
            window = (carrier_estimate, carrier_estimate)
            return ShippingEstimate(status, None, window, "shipping.carrier", "carrier estimate")
        window = (add_business_days(shipped_on, fewest), add_business_days(shipped_on, most))
        basis = f"{method} shipping: {fewest}-{most} business days after it shipped"
        return ShippingEstimate(status, None, window, "shipping.in_transit", basis)
    if status == "processing":
        earliest_ship, latest_ship = (
            add_business_days(ordered_on, d) for d in policy.processing_days
        )
        soonest = _next_business_day(today)  # a late order ships no earlier than today
        ships = (max(earliest_ship, soonest), max(latest_ship, soonest))
        arrives = (add_business_days(ships[0], fewest), add_business_days(ships[1], most))
        low, high = policy.processing_days
        basis = (
            f"ships within {low}-{high} business days of the order, then {method} shipping "
            f"takes {fewest}-{most} business days"
        )
        return ShippingEstimate(status, ships, arrives, "shipping.processing", basis)
    return ShippingEstimate(status, None, None, "shipping.not_arriving", f"the order is {status}")
