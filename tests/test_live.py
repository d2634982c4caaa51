"""The pages' server side: demo sign-in only on the embedded default, and the event streams.

The streams run over a real server (``live_app``) because a stream that succeeds never ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browserkit import LiveApp
from fastapi.testclient import TestClient


def sign_in(live_app: LiveApp, role: str, subject: str | None = None) -> dict[str, str]:
    """Bearer headers for a demo identity."""
    body = {"role": role} | ({"subject": subject} if subject else {})
    response = httpx.post(f"{live_app.url}/v1/demo/sign-in", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def events(response: httpx.Response, within_s: float = 20) -> Iterator[tuple[str, Any]]:
    """The (event, data) pairs of a server-sent event stream, as they arrive, for a while."""
    deadline = time.monotonic() + within_s
    name, data = "message", ""
    for line in response.iter_lines():
        assert time.monotonic() < deadline, "the stream sent nothing new in time"
        if not line:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()


def post_message(live_app: LiveApp, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{live_app.url}/v1/support/message", headers=headers, json=body, timeout=30
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_demo_sign_in_is_off_without_the_development_key(client: TestClient) -> None:
    assert client.get("/v1/demo").json()["enabled"] is False
    refused = client.post("/v1/demo/sign-in", json={"role": "customer"})
    assert refused.status_code == 404
    assert "embedded default" in refused.json()["detail"]


def test_demo_sign_in_issues_working_tokens_for_each_role(live_app: LiveApp) -> None:
    status = httpx.get(f"{live_app.url}/v1/demo", timeout=30).json()
    assert status["enabled"] is True
    assert "cust_456" in {customer["id"] for customer in status["customers"]}

    unknown = httpx.post(
        f"{live_app.url}/v1/demo/sign-in",
        json={"role": "customer", "subject": "cust_nobody"},
        timeout=30,
    )
    assert unknown.status_code == 422

    customer = sign_in(live_app, "customer", "cust_456")
    reply = post_message(live_app, customer, message="where is my order ORD-789?")
    assert "ORD-789" in reply["response"]
    agent = sign_in(live_app, "agent")
    assert httpx.get(f"{live_app.url}/v1/agents/queue", headers=agent, timeout=30).is_success
    lead = sign_in(live_app, "lead")
    analytics = httpx.get(f"{live_app.url}/v1/support/analytics", headers=lead, timeout=30)
    assert analytics.is_success
    # a customer's token reaches neither staff route
    for path in ("/v1/agents/queue", "/v1/support/analytics"):
        assert httpx.get(f"{live_app.url}{path}", headers=customer, timeout=30).status_code == 403


def test_a_conversation_stream_sends_the_view_and_each_change(live_app: LiveApp) -> None:
    customer = sign_in(live_app, "customer", "cust_456")
    first = post_message(live_app, customer, message="where is my order ORD-789?")
    ticket_id = first["ticket_id"]
    seen: list[dict[str, Any]] = []
    with httpx.stream(
        "GET",
        f"{live_app.url}/v1/support/tickets/{ticket_id}/events",
        headers=customer,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        name, view = next(stream)
        seen.append(view)
        assert name == "conversation"
        assert [m["role"] for m in view["messages"]] == ["customer", "ai"]
        post_message(
            live_app, customer, ticket_id=ticket_id, message="and what is your return policy?"
        )
        for _name, view in stream:
            seen.append(view)
            if len(view["messages"]) == 4:
                break
    assert seen[-1]["messages"][2]["content"] == "and what is your return policy?"
    assert seen[-1]["messages"][3]["id"] != first["message_id"]


@pytest.mark.parametrize(
    ("who", "status"), [("other_customer", 404), ("nobody", 401), ("customer_on_queue", 403)]
)
def test_streams_refuse_before_they_start(live_app: LiveApp, who: str, status: int) -> None:
    owner = sign_in(live_app, "customer", "cust_456")
    ticket_id = post_message(live_app, owner, message="where is my order ORD-789?")["ticket_id"]
    headers, path = {
        "other_customer": (
            sign_in(live_app, "customer", "cust_101"),
            f"/v1/support/tickets/{ticket_id}/events",
        ),
        "nobody": ({}, f"/v1/support/tickets/{ticket_id}/events"),
        "customer_on_queue": (owner, "/v1/agents/queue/events"),
    }[who]
    with httpx.stream("GET", f"{live_app.url}{path}", headers=headers, timeout=30) as response:
        assert response.status_code == status
        response.read()
        assert response.json()["detail"]
        if who == "other_customer":  # nothing of the ticket but the id the caller sent
            assert "ORD-789" not in response.text and "cust_456" not in response.text


def test_the_queue_stream_shows_a_new_escalation(live_app: LiveApp) -> None:
    # staff without a free agent: a signed-in demo agent would be assigned the ticket at once
    staff = {"Authorization": f"Bearer {live_app.api_key}"}
    customer = sign_in(live_app, "customer", "cust_456")
    ticket_id = post_message(live_app, customer, message="where is my order ORD-789?")["ticket_id"]
    with httpx.stream(
        "GET", f"{live_app.url}/v1/agents/queue/events", headers=staff, timeout=30
    ) as response:
        assert response.status_code == 200
        stream = events(response)
        name, queue = next(stream)
        assert name == "queue"
        assert ticket_id not in {entry["ticket_id"] for entry in queue}
        escalated = httpx.post(
            f"{live_app.url}/v1/support/escalate",
            headers=customer,
            json={"ticket_id": ticket_id, "reason": "I'd like a person"},
            timeout=30,
        )
        assert escalated.status_code == 200, escalated.text
        for _name, queue in stream:
            if ticket_id in {entry["ticket_id"] for entry in queue}:
                break
