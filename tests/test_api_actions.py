"""POST /v1/support/action: confirmed actions run once, within policy, on the customer's data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from testkit import SPEC_BODY, refund_payments, refund_request, send

from supportgraph.commerce.records import OrderStatus
from supportgraph.db.models import ActionExecution, ActionStatus
from supportgraph.services import Services


def open_spec_ticket(client: TestClient) -> str:
    response = client.post("/v1/support/message", json=SPEC_BODY)
    assert response.status_code == 200, response.text
    return str(response.json()["ticket_id"])


def test_confirmed_refund_executes_once(client: TestClient, services: Services) -> None:
    ticket_id = open_spec_ticket(client)

    first = client.post("/v1/support/action", json=refund_request(ticket_id, confirmed=True))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "executed"
    assert body["executed_at"] is not None
    assert body["details"]["refunded"] == "1299.00"
    assert body["details"]["order"]["status"] == "cancelled"

    order = services.backend.get_order("ORD-789")
    assert order is not None
    assert order.status == OrderStatus.CANCELLED
    assert order.refunded_total == Decimal("1299.00")
    [payment] = refund_payments(services, "ORD-789")
    assert payment.amount_cents == 129900 and payment.action_id == body["action_id"]

    again = client.post("/v1/support/action", json=refund_request(ticket_id, confirmed=True))
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "executed"
    assert again.json()["action_id"] == body["action_id"]
    assert len(refund_payments(services, "ORD-789")) == 1
    order = services.backend.get_order("ORD-789")
    assert order is not None and order.refunded_total == Decimal("1299.00")

    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert view["status"] == "resolved" and view["resolved_by"] == "ai"
    support = client.app.state.support  # type: ignore[attr-defined]
    assert support.graph.get_state(support.config(ticket_id)).values["open_proposals"] == []


def test_replayed_request_with_idempotency_key(client: TestClient, services: Services) -> None:
    ticket_id = open_spec_ticket(client)
    headers = {"Idempotency-Key": "refund-ORD-789-once"}
    request = refund_request(ticket_id, confirmed=True)
    first = client.post("/v1/support/action", json=request, headers=headers).json()
    second = client.post("/v1/support/action", json=request, headers=headers).json()
    assert first["status"] == second["status"] == "executed"
    assert (first["replayed"], second["replayed"]) == (False, True)
    assert len(refund_payments(services, "ORD-789")) == 1
    other = {**request, "parameters": {"order_id": "ORD-790"}}
    conflict = client.post("/v1/support/action", json=other, headers=headers)
    assert conflict.status_code == 409


def test_unconfirmed_refund_does_nothing(client: TestClient, services: Services) -> None:
    ticket_id = open_spec_ticket(client)
    response = client.post("/v1/support/action", json=refund_request(ticket_id, confirmed=False))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "awaiting_confirmation"
    assert body["executed_at"] is None
    assert refund_payments(services, "ORD-789") == []
    order = services.backend.get_order("ORD-789")
    assert order is not None and order.status == OrderStatus.PROCESSING
    with Session(services.engine) as session:
        rows = session.exec(select(ActionExecution).where(ActionExecution.ticket_id == ticket_id))
        assert {row.status for row in rows} == {ActionStatus.PROPOSED}


def test_action_on_another_customers_order_is_denied_and_recorded(
    client: TestClient, services: Services
) -> None:
    ticket_id = open_spec_ticket(client)
    before = services.backend.get_order("ORD-1201")
    request = {
        "ticket_id": ticket_id,
        "customer_id": "cust_456",
        "action": "process_refund",
        "parameters": {"order_id": "ORD-1201"},
        "confirmed_by_customer": True,
    }
    response = client.post("/v1/support/action", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "denied"
    assert body["rule_id"] == "ownership.not_found"
    assert body["executed_at"] is None

    with Session(services.engine) as session:
        row = session.get(ActionExecution, body["action_id"])
    assert row is not None
    assert (row.status, row.policy_rule, row.policy_allowed) == (
        ActionStatus.DENIED, "ownership.not_found", False
    )  # fmt: skip
    assert (row.customer_id, row.ticket_id) == ("cust_456", ticket_id)
    assert row.arguments["order_id"] == "ORD-1201"

    assert services.backend.get_order("ORD-1201") == before
    assert refund_payments(services, "ORD-1201") == []


def test_conflicting_arguments_are_refused(client: TestClient, services: Services) -> None:
    ticket_id = open_spec_ticket(client)
    request = refund_request(ticket_id, confirmed=True, amount="1.00")
    response = client.post("/v1/support/action", json=request)
    assert response.status_code == 409
    assert "differ" in response.json()["detail"]
    assert refund_payments(services, "ORD-789") == []


def test_chat_confirmation_executes_the_offer(client: TestClient, services: Services) -> None:
    ticket_id = open_spec_ticket(client)
    reply = send(client, "yes please", ticket_id=ticket_id)
    assert reply["turn"] == 2
    assert "ORD-789" in reply["response"] and "cancelled" in reply["response"]
    assert len(refund_payments(services, "ORD-789")) == 1
    again = send(client, "yes please", ticket_id=ticket_id)
    assert again["turn"] == 3
    assert len(refund_payments(services, "ORD-789")) == 1


def test_refund_above_ceiling_needs_a_person(client: TestClient, services: Services) -> None:
    body = send(
        client,
        "My monitor ORD-1202 has dead pixels, I want a refund",
        customer_id="cust_102",
    )
    assert body["escalated"] is True
    assert body["actions_available"] == []
    assert refund_payments(services, "ORD-1202") == []


def test_partial_refund_of_unshipped_order_is_refused(
    client: TestClient, services: Services
) -> None:
    ticket_id = send(client, "Where is my laptop order ORD-789?")["ticket_id"]
    request = refund_request(ticket_id, confirmed=True, amount="100.00")
    response = client.post("/v1/support/action", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["rule_id"]) == ("denied", "refund.unshipped.partial")
    order = services.backend.get_order("ORD-789")
    assert order is not None
    assert (order.status, order.refunded_total) == (OrderStatus.PROCESSING, Decimal("0.00"))
    assert refund_payments(services, "ORD-789") == []


def test_the_spec_shape_refunds_once_and_says_so_from_the_stored_refund(
    client: TestClient, services: Services
) -> None:
    ticket_id = open_spec_ticket(client)
    body = {
        "ticket_id": ticket_id,
        "action_type": "process_refund",
        "parameters": {"order_id": "ORD-789", "amount": "full"},
        "confirmed_by_customer": True,
    }
    first = client.post("/v1/support/action", json=body)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "executed"
    [payment] = refund_payments(services, "ORD-789")
    assert payment.amount_cents == 129900
    assert first.json()["result"] == (
        "Refund of $1,299.00 initiated for order ORD-789. The order is cancelled, so it will "
        "not ship. Expect 5-10 business days for processing."
    )
    again = client.post("/v1/support/action", json=body)
    assert again.status_code == 200 and again.json()["action_id"] == first.json()["action_id"]
    assert len(refund_payments(services, "ORD-789")) == 1  # nothing more refunded


@pytest.mark.parametrize(
    "names",
    [{}, {"action_type": "process_refund", "action": "cancel_order"}],
    ids=["neither", "different"],
)
def test_the_action_must_be_named_once(client: TestClient, names: dict[str, str]) -> None:
    ticket_id = open_spec_ticket(client)
    body = {"ticket_id": ticket_id, "parameters": {"order_id": "ORD-789"}, **names}
    assert client.post("/v1/support/action", json=body).status_code == 422


def test_the_older_field_name_is_marked_deprecated(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ActionRequestBody"]
    assert schema["properties"]["action"]["deprecated"] is True
    assert "deprecated" not in schema["properties"]["action_type"]
