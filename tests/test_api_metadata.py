"""The message's metadata: validated, stored with the message, and the page's order in focus."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from supportgraph.db.models import CustomerMessage
from supportgraph.services import Services


def _send(client: TestClient, message: str, **metadata: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"customer_id": "cust_456", "message": message}
    if metadata:
        body["metadata"] = metadata
    response = client.post("/v1/support/message", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_without_a_page_the_newest_order_is_meant(client: TestClient) -> None:
    body = _send(client, "Where is my order?")
    assert "ORD-789" in body["response"] and "ORD-790" not in body["response"]


def test_the_page_names_the_order_in_focus(client: TestClient) -> None:
    body = _send(client, "Where is my order?", page_url="https://shop.example.com/orders/ORD-790")
    assert "ORD-790" in body["response"] and "ORD-789" not in body["response"]
    assert "delivered" in body["response"]


def test_an_order_the_message_names_wins_over_the_page(client: TestClient) -> None:
    body = _send(client, "Where is ORD-789?", page_url="/orders/ORD-790")
    assert "ORD-789" in body["response"] and "ORD-790" not in body["response"]


def test_earlier_messages_name_the_order_when_the_page_does_not(client: TestClient) -> None:
    body = _send(
        client,
        "Where is it now?",
        page_url="/help",
        previous_messages=[
            {"role": "customer", "content": "I have a question about ORD-790"},
            {"role": "ai", "content": "Of course, what would you like to know?"},
        ],
    )
    assert "ORD-790" in body["response"]


def test_a_page_naming_another_customers_order_is_not_followed(client: TestClient) -> None:
    body = _send(client, "Where is my order?", page_url="/orders/ORD-1101")
    assert "ORD-1101" not in body["response"]


def test_metadata_is_stored_with_the_message_and_cards_masked(
    client: TestClient, services: Services
) -> None:
    body = _send(
        client,
        "Where is my order?",
        page_url="/orders/ORD-790",
        previous_messages=["my card is 4111 1111 1111 1111", {"role": "ai", "content": "Hi"}],
    )
    with Session(services.engine) as session:
        stored = session.get(CustomerMessage, body["customer_message_id"])
    assert stored is not None and stored.client_metadata is not None
    assert stored.client_metadata["page_url"] == "/orders/ORD-790"
    texts = [item["content"] for item in stored.client_metadata["previous_messages"]]
    assert "4111 1111 1111 1111" not in " ".join(texts)
    assert stored.client_metadata["previous_messages"][0]["role"] == "customer"
    assert stored.client_metadata["previous_messages"][1] == {"role": "ai", "content": "Hi"}
    ticket = client.get(f"/v1/support/tickets/{body['ticket_id']}").json()
    assert ticket["messages"][0]["client_metadata"]["page_url"] == "/orders/ORD-790"


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"page_url": "javascript:alert(1)"}, "page_url"),
        ({"page_url": "x" * 3000}, "page_url"),
        ({"previous_messages": ["hi"] * 51}, "previous_messages"),
        ({"previous_messages": [{"role": "customer", "content": ""}]}, "previous_messages"),
        ({"previous_messages": [{"role": "robot", "content": "hi"}]}, "previous_messages"),
        ({"previous_messages": ["  "]}, "previous_messages"),
        ({"referrer": "/x"}, "referrer"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(
    client: TestClient, services: Services, metadata: dict[str, Any], field: str
) -> None:
    before = _message_count(services)
    response = client.post(
        "/v1/support/message",
        json={"customer_id": "cust_456", "message": "Where is my order?", "metadata": metadata},
    )
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(loc[:3] == ["body", "metadata", field] for loc in locations), locations
    assert _message_count(services) == before


def _message_count(services: Services) -> int:
    with Session(services.engine) as session:
        return len(session.exec(select(CustomerMessage)).all())
