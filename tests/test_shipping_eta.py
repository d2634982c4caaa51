"""check_shipping_eta: a read action whose dates come from the order and the shipping policy."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from testkit import SPEC_BODY, record_counts

from policies.config import load_policy_config
from policies.shipping import add_business_days, estimate_delivery
from supportgraph.services import Services

POLICY = load_policy_config().shipping
THURSDAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("status", "method", "ordered", "shipped", "delivered", "carrier", "ships", "arrives", "rule"),
    [
        # Placed today, a Thursday: ships Fri-Mon, then standard transit of 3-5 business days.
        ("processing", "standard", THURSDAY, None, None, None,
         (date(2026, 12, 4), date(2026, 12, 7)), (date(2026, 12, 9), date(2026, 12, 14)),
         "shipping.processing"),
        # Placed the Monday before and still not shipped: it cannot ship before today.
        ("processing", "express", date(2026, 11, 23), None, None, None,
         (THURSDAY, THURSDAY), (date(2026, 12, 4), date(2026, 12, 7)), "shipping.processing"),
        ("shipped", "standard", date(2026, 11, 30), date(2026, 12, 1), None, None,
         None, (date(2026, 12, 4), date(2026, 12, 8)), "shipping.in_transit"),
        ("shipped", "standard", date(2026, 11, 30), date(2026, 12, 1), None, date(2026, 12, 5),
         None, (date(2026, 12, 5), date(2026, 12, 5)), "shipping.carrier"),
        ("delivered", "standard", date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 25),
         None, None, (date(2026, 11, 25), date(2026, 11, 25)), "shipping.delivered"),
        ("cancelled", "standard", date(2026, 11, 20), None, None, None, None, None,
         "shipping.not_arriving"),
    ],
    ids=["processing", "processing_late", "in_transit", "carrier", "delivered", "cancelled"],
)  # fmt: skip
def test_the_window_follows_the_order_and_the_policy(
    status: str,
    method: str,
    ordered: date,
    shipped: date | None,
    delivered: date | None,
    carrier: date | None,
    ships: tuple[date, date] | None,
    arrives: tuple[date, date] | None,
    rule: str,
) -> None:
    estimate = estimate_delivery(
        status=status,
        method=method,
        ordered_on=ordered,
        shipped_on=shipped,
        delivered_on=delivered,
        carrier_estimate=carrier,
        today=THURSDAY,
        policy=POLICY,
    )
    assert (estimate.ships_between, estimate.arrives_between, estimate.rule_id) == (
        ships,
        arrives,
        rule,
    )


def test_business_days_skip_the_weekend() -> None:
    assert add_business_days(date(2026, 12, 4), 1) == date(2026, 12, 7)  # Friday → Monday
    assert add_business_days(date(2026, 12, 5), 3) == date(2026, 12, 9)  # from a Saturday


def test_the_laptop_example_offers_and_answers_the_shipping_check(
    client: TestClient, services: Services
) -> None:
    reply = client.post("/v1/support/message", json=SPEC_BODY).json()
    assert {"process_refund", "check_shipping_eta"} <= set(reply["actions_available"])
    before = record_counts(services.engine)
    response = client.post(
        "/v1/support/action",
        json={
            "ticket_id": reply["ticket_id"],
            "action": "check_shipping_eta",
            "parameters": {"order_id": "ORD-789"},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "executed" and body["action_id"] is None
    estimate = body["details"]["estimate"]
    assert (
        body["details"]["status"] == "processing" and estimate["rule_id"] == "shipping.processing"
    )
    assert "1-2 business days" in estimate["basis"] and "3-5 business days" in estimate["basis"]
    assert body["result"].startswith("Order ORD-789 is processing. It should ship ")
    assert estimate["basis"] in body["result"]
    ships_from = date.fromisoformat(estimate["ships_between"][0])
    assert ships_from < date.fromisoformat(estimate["arrives_between"][1])
    assert record_counts(services.engine) == before  # a read changes nothing


def test_the_shipping_check_reads_only_the_customers_own_orders(client: TestClient) -> None:
    ticket_id = client.post("/v1/support/message", json=SPEC_BODY).json()["ticket_id"]
    for parameters, status in (
        ({"order_id": "ORD-1101"}, 404),  # cust_101's order looks like no order
        ({}, 422),
        ({"order_id": "ORD-789", "amount": "5"}, 422),
    ):
        response = client.post(
            "/v1/support/action",
            json={"ticket_id": ticket_id, "action": "check_shipping_eta", "parameters": parameters},
        )
        assert response.status_code == status, (parameters, response.text)
