"""Bad input, escalation and analytics through the real app."""

from __future__ import annotations

from statistics import fmean
from typing import Any

import pytest
from fastapi.testclient import TestClient
from testkit import SPEC_BODY, record_counts, send

from supportgraph.services import Services

GOOD = {"customer_id": "cust_456", "ticket_id": "new", "message": "Where is my order?"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in GOOD.items() if k != "customer_id"}, "customer_id"),
        ({**GOOD, "message": ""}, "message"),
        ({**GOOD, "message": "   "}, "message"),
        ({**GOOD, "message": "x" * 4001}, "message"),
        ({**GOOD, "channel": "carrier_pigeon"}, "channel"),
        ({**GOOD, "customer_id": "cust 456; DROP TABLE"}, "customer_id"),
    ],
    ids=["missing_customer", "empty_message", "blank_message", "too_long", "bad_channel",
         "bad_customer_id"],
)  # fmt: skip
def test_invalid_message_is_422_and_stores_nothing(
    client: TestClient, services: Services, body: dict[str, Any], field: str
) -> None:
    existing = send(client, "Where is my order?")["ticket_id"]
    before = record_counts(services.engine)
    response = client.post("/v1/support/message", json={**body, "ticket_id": existing})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(field in error["loc"] and error["msg"] for error in detail), detail
    assert record_counts(services.engine) == before


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"\xc3\x28 not utf-8", 400),
        (b'{"message": ', 422),
        (b'{"customer_id": "cust_456", "message": "where is it \\ud800"}', 422),
    ],
    ids=["not_utf8", "cut", "lone_surrogate"],
)
def test_unreadable_body_is_refused_and_stores_nothing(
    client: TestClient, services: Services, content: bytes, status: int
) -> None:
    send(client, "Where is my order?")
    before = record_counts(services.engine)
    response = client.post(
        "/v1/support/message", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert record_counts(services.engine) == before


def test_message_of_exactly_4000_chars_is_accepted(client: TestClient) -> None:
    body = send(client, "Where is my order? " + "x" * (4000 - 19))
    assert body["turn"] == 1


def test_unknown_customer_is_404(client: TestClient, services: Services) -> None:
    before = record_counts(services.engine)
    response = client.post("/v1/support/message", json={**GOOD, "customer_id": "cust_nobody"})
    assert response.status_code == 404
    assert "cust_nobody" in response.json()["detail"]
    assert record_counts(services.engine) == before


def test_another_customers_ticket_is_404(client: TestClient, services: Services) -> None:
    ticket_id = send(client, "Where is my order?")["ticket_id"]
    before = record_counts(services.engine)
    response = client.post(
        "/v1/support/message",
        json={"customer_id": "cust_102", "ticket_id": ticket_id, "message": "Where is my order?"},
    )
    assert response.status_code == 404
    assert response.json()["detail"]
    assert record_counts(services.engine) == before
    escalate = client.post(
        "/v1/support/escalate", json={"ticket_id": ticket_id, "customer_id": "cust_102"}
    )
    assert escalate.status_code == 404
    action = client.post(
        "/v1/support/action",
        json={"ticket_id": ticket_id, "customer_id": "cust_102", "action": "process_refund",
              "parameters": {"order_id": "ORD-1201"}, "confirmed_by_customer": True},
    )  # fmt: skip
    assert action.status_code == 404
    assert record_counts(services.engine) == before


@pytest.mark.parametrize(
    ("action", "parameters", "reason"),
    [
        ("issue_store_credit", {"order_id": "ORD-789"}, "action"),
        ("process_refund", {}, "order_id"),
        ("process_refund", {"order_id": "ORD-789", "amount": "lots"}, "amount"),
    ],
)
def test_bad_action_is_422_and_stores_nothing(
    client: TestClient, services: Services, action: str, parameters: dict[str, Any], reason: str
) -> None:
    ticket_id = client.post("/v1/support/message", json=SPEC_BODY).json()["ticket_id"]
    before = record_counts(services.engine)
    response = client.post(
        "/v1/support/action",
        json={"ticket_id": ticket_id, "customer_id": "cust_456", "action": action,
              "parameters": parameters, "confirmed_by_customer": True},
    )  # fmt: skip
    assert response.status_code == 422
    assert reason in str(response.json()["detail"])
    assert record_counts(services.engine) == before


def test_unknown_ticket_is_404(client: TestClient, services: Services) -> None:
    before = record_counts(services.engine)
    assert client.get("/v1/support/tickets/tkt_doesnotexist").status_code == 404
    action = client.post(
        "/v1/support/action",
        json={"ticket_id": "tkt_doesnotexist", "customer_id": "cust_456",
              "action": "process_refund", "parameters": {"order_id": "ORD-789"}},
    )  # fmt: skip
    assert action.status_code == 404
    escalate = client.post(
        "/v1/support/escalate", json={"ticket_id": "tkt_doesnotexist", "customer_id": "cust_456"}
    )
    assert escalate.status_code == 404
    assert record_counts(services.engine) == before


def test_escalate_hands_off_with_transcript(client: TestClient) -> None:
    ticket_id = client.post("/v1/support/message", json=SPEC_BODY).json()["ticket_id"]
    response = client.post(
        "/v1/support/escalate",
        json={"ticket_id": ticket_id, "customer_id": "cust_456", "reason": "customer is upset"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["escalated"] is True and body["ticket_id"] == ticket_id
    packet = body["handoff"]
    assert packet["reason"] == "customer is upset"
    assert packet["customer_id"] == "cust_456"
    assert [m["role"] for m in packet["transcript"]] == ["customer", "ai"]
    assert packet["transcript"][0]["content"] == SPEC_BODY["message"]
    assert packet["summary"]

    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert view["status"] == "escalated"
    assert view["escalated_at"] is not None
    assert any(d["source"] == "api" and d["escalate"] for d in view["escalation_decisions"])

    later = send(client, "Any update on this?", ticket_id=ticket_id)
    assert later["escalated"] is True
    assert later["turn"] == 2
    assert later["actions_available"] == []
    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    waiting = view["handoff_summary"]["messages_while_waiting"]
    assert waiting == [{"turn": 2, "content": "Any update on this?"}]
    assert view["status"] == "escalated"


def test_packet_survives_messages_while_waiting(client: TestClient) -> None:
    ticket_id = client.post("/v1/support/message", json=SPEC_BODY).json()["ticket_id"]
    client.post("/v1/support/escalate", json={"ticket_id": ticket_id, "customer_id": "cust_456"})
    send(client, "Any update on this?", ticket_id=ticket_id)
    send(client, "Hello? Still waiting.", ticket_id=ticket_id)
    packet = client.get(f"/v1/support/tickets/{ticket_id}").json()["handoff_summary"]
    assert [m["content"] for m in packet["messages_while_waiting"]] == [
        "Any update on this?", "Hello? Still waiting."
    ]  # fmt: skip
    assert packet["transcript"][0]["content"] == SPEC_BODY["message"]
    assert packet["reason"] == "customer asked for a person"


def test_analytics_from_stored_records(client: TestClient) -> None:
    empty = client.get("/v1/support/analytics").json()
    assert empty["total_tickets"] == 0 and empty["deflection_rate"] == 0.0

    resolved = client.post("/v1/support/message", json=SPEC_BODY).json()
    confirm = client.post(
        "/v1/support/action",
        json={"ticket_id": resolved["ticket_id"], "customer_id": "cust_456",
              "action": "process_refund", "parameters": {"order_id": "ORD-789"},
              "confirmed_by_customer": True},
    )  # fmt: skip
    assert confirm.json()["status"] == "executed"
    escalated = send(client, "I want to talk to a human")
    pending = send(client, "what's the weather in Paris")
    assert escalated["escalated"] and not pending["escalated"]

    response = client.get("/v1/support/analytics")
    assert response.status_code == 200
    figures = response.json()
    assert figures["total_tickets"] == 3
    assert figures["ai_resolved"] == 1
    assert figures["escalated"] == 1
    assert figures["pending"] == 1
    assert figures["deflection_rate"] == round(1 / 3, 4)
    latencies = [b["response_latency_ms"] for b in (resolved, escalated, pending)]
    assert figures["avg_ai_response_ms"] == pytest.approx(fmean(latencies), abs=0.01)
    top = {row["intent"]: row for row in figures["top_intents"]}
    primary = resolved["intents"][0]["intent"]  # a ticket counts under its primary intent
    assert set(top) == {primary, "human_agent", "unknown"}
    assert all(row["count"] == 1 for row in top.values())
    assert top[primary]["auto_resolved_pct"] == 1.0
    assert top["human_agent"]["auto_resolved_pct"] == 0.0
    assert figures["cost_savings_usd"] == 6.0


def test_analytics_period_is_validated(client: TestClient) -> None:
    response = client.get(
        "/v1/support/analytics",
        params={"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "start"]
    past = client.get(
        "/v1/support/analytics",
        params={"start": "2000-01-01T00:00:00", "end": "2000-01-02T00:00:00"},
    )
    assert past.status_code == 200 and past.json()["total_tickets"] == 0
