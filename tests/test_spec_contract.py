"""The spec's four example requests, sent verbatim, answered with the spec's fields and types."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from supportgraph import spec_examples
from supportgraph.db.models import ActionExecution, ActionStatus, CustomerMessage, SupportTicket
from supportgraph.services import Services

# Field -> the JSON types the spec's example responses give it.
MESSAGE_FIELDS: dict[str, tuple[type, ...]] = {
    "ticket_id": (str,),
    "message_id": (str,),
    "response": (str,),
    "intent": (str,),
    "confidence": (float, int),
    "actions_available": (list,),
    "escalated": (bool,),
    "sources": (list,),
    "response_latency_ms": (float, int),
}
ACTION_FIELDS: dict[str, tuple[type, ...]] = {
    "action_id": (str,),
    "action_type": (str,),
    "status": (str,),
    "result": (str,),
}
ESCALATE_FIELDS: dict[str, tuple[type, ...]] = {
    "escalation_id": (str,),
    "assigned_agent": (str, type(None)),
    "estimated_wait_minutes": (float, int, type(None)),
    "queue_position": (int, type(None)),
    "handoff_context_included": (bool,),
}
ANALYTICS_FIELDS: dict[str, tuple[type, ...]] = {
    "period": (str,),
    "total_tickets": (int,),
    "auto_resolved_pct": (float, int),
    "top_intents": (list,),
    "cost_savings_usd": (float, int),
}


def _has_fields(body: dict[str, Any], fields: dict[str, tuple[type, ...]]) -> None:
    for name, types in fields.items():
        assert name in body, f"{name} missing from {sorted(body)}"
        assert isinstance(body[name], types), f"{name} is {body[name]!r}, not {types}"


def _with_ticket(example: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    body = copy.deepcopy(example)
    body["ticket_id"] = ticket_id
    return body


def _message(client: TestClient) -> dict[str, Any]:
    response = client.post("/v1/support/message", json=spec_examples.MESSAGE)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_message_example(client: TestClient, services: Services) -> None:
    body = _message(client)
    _has_fields(body, MESSAGE_FIELDS)
    assert body["intent"] == "multi_intent:order_status+refund"
    assert {"process_refund", "check_shipping_eta"} <= set(body["actions_available"])
    assert all(isinstance(name, str) for name in body["actions_available"])
    source_ids = [source["id"] for source in body["sources"]]
    assert "ORD-789" in source_ids or "order-ORD-789" in source_ids
    assert any("#" in source_id for source_id in source_ids), source_ids  # a help article
    assert "ORD-789" in body["response"]
    with Session(services.engine) as session:
        reply = session.get(CustomerMessage, body["message_id"])
        asked = session.get(CustomerMessage, body["customer_message_id"])
    assert reply is not None and reply.role == "ai" and reply.content == body["response"]
    assert asked is not None and asked.client_metadata == spec_examples.MESSAGE["metadata"]


def test_message_example_without_the_page_still_finds_the_laptop(client: TestClient) -> None:
    body = {key: value for key, value in spec_examples.MESSAGE.items() if key != "metadata"}
    response = client.post("/v1/support/message", json=body)
    assert response.status_code == 200
    assert "process_refund" in response.json()["actions_available"]


def test_action_example_refunds_once_with_the_spec_sentence(
    client: TestClient, services: Services
) -> None:
    ticket_id = _message(client)["ticket_id"]
    body = _with_ticket(spec_examples.ACTION, ticket_id)
    first = client.post("/v1/support/action", json=body)
    assert first.status_code == 200, first.text
    answer = first.json()
    _has_fields(answer, ACTION_FIELDS)
    assert answer["status"] == "executed" and answer["action_type"] == "process_refund"
    assert answer["result"].startswith("Refund of $1,299.00 initiated for order ORD-789.")
    assert "Expect 5-10 business days for processing." in answer["result"]
    assert answer["parameters"]["reason"] == "order_not_shipped"
    again = client.post("/v1/support/action", json=body)
    assert again.status_code == 200 and again.json()["action_id"] == answer["action_id"]
    with Session(services.engine) as session:
        refunds = session.exec(
            select(ActionExecution).where(
                ActionExecution.ticket_id == ticket_id,
                ActionExecution.action == "process_refund",
                ActionExecution.status == ActionStatus.EXECUTED,
            )
        ).all()
    assert len(refunds) == 1
    assert refunds[0].result is not None and refunds[0].result["refunded"] == "1299.00"
    assert refunds[0].customer_reason == "order_not_shipped"
    backend_refunds = services.backend.list_payments("cust_456")
    assert sum(1 for p in backend_refunds if p.kind == "refund" and p.order_id == "ORD-789") == 1


def test_escalate_example(client: TestClient, services: Services) -> None:
    ticket_id = _message(client)["ticket_id"]
    response = client.post(
        "/v1/support/escalate", json=_with_ticket(spec_examples.ESCALATE, ticket_id)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    _has_fields(body, ESCALATE_FIELDS)
    assert body["assigned_agent"] is None  # nobody is registered in the seeded store
    assert body["queue_position"] == 1 and body["handoff_context_included"] is True
    assert body["estimated_wait_minutes"] is None and body["estimated_wait_basis"]
    with Session(services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
    assert ticket is not None and ticket.status == "escalated"
    assert ticket.handoff_summary is not None
    assert (
        ticket.handoff_summary["caller_summary"] == spec_examples.ESCALATE["conversation_summary"]
    )


def test_analytics_example(client: TestClient) -> None:
    _message(client)
    response = client.get("/v1/support/analytics", params=spec_examples.ANALYTICS_QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    _has_fields(body, ANALYTICS_FIELDS)
    assert body["period"] == "7d" and body["total_tickets"] == 1
    assert 0.0 <= body["auto_resolved_pct"] <= 1.0
    assert body["auto_resolved_pct"] == body["deflection_rate"]


def test_openapi_shows_the_spec_examples(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["MessageRequest"]["examples"] == [spec_examples.MESSAGE]
    assert schemas["ActionRequestBody"]["examples"] == [spec_examples.ACTION]
    assert schemas["EscalateRequest"]["examples"] == [spec_examples.ESCALATE]
    paths = client.get("/openapi.json").json()["paths"]
    period = next(
        p for p in paths["/v1/support/analytics"]["get"]["parameters"] if p["name"] == "period"
    )
    assert period["schema"]["examples"] == [spec_examples.ANALYTICS_QUERY["period"]]
    action = schemas["ActionResponse"]["properties"]["action"]
    assert action.get("deprecated") is True
