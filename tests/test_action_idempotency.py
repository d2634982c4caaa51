"""Idempotency-Key on POST /v1/support/action, through the real app.

Same key and body: the stored response, byte for byte (apart from ``replayed``). Same key,
other body: 409 with a reason. Keys belong to a customer; a failed request keeps no key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from testkit import SPEC_BODY, refund_payments, refund_request, send

from supportgraph import idempotency
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, IdempotentRequest, utcnow
from supportgraph.services import Services


def spec_ticket(client: TestClient, customer_id: str = "cust_456") -> str:
    body = {**SPEC_BODY, "customer_id": customer_id}
    response = client.post("/v1/support/message", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["ticket_id"])


def post(client: TestClient, body: dict[str, Any], key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/v1/support/action", json=body, headers=headers)


def test_same_key_same_body_replays_the_stored_response_byte_for_byte(
    client: TestClient, services: Services
) -> None:
    ticket_id = spec_ticket(client)
    first = post(client, refund_request(ticket_id), "pay-once-1")
    second = post(client, refund_request(ticket_id), "pay-once-1")
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["status"] == "executed" and first.json()["replayed"] is False
    assert second.json()["replayed"] is True
    assert first.content.count(b'"replayed":false') == 1
    assert first.content.replace(b'"replayed":false', b'"replayed":true') == second.content
    assert len(refund_payments(services, "ORD-789")) == 1


def test_same_key_other_body_is_refused_with_a_reason(
    client: TestClient, services: Services
) -> None:
    ticket_id = spec_ticket(client)
    assert post(client, refund_request(ticket_id), "key-7").status_code == 200
    for changed in (
        refund_request(ticket_id, amount="1299.00"),
        refund_request(ticket_id, confirmed=False),
        {**refund_request(ticket_id), "action": "cancel_order"},
    ):
        conflict = post(client, changed, "key-7")
        assert conflict.status_code == 409
        assert "different request" in conflict.json()["detail"]
    assert post(client, refund_request(ticket_id), "key-7").json()["replayed"] is True
    assert len(refund_payments(services, "ORD-789")) == 1


def test_an_unconfirmed_request_replays_as_unconfirmed(
    client: TestClient, services: Services
) -> None:
    ticket_id = spec_ticket(client)
    waiting = post(client, refund_request(ticket_id, confirmed=False), "look-first")
    again = post(client, refund_request(ticket_id, confirmed=False), "look-first")
    assert waiting.json()["status"] == again.json()["status"] == "awaiting_confirmation"
    assert again.json()["replayed"] is True
    assert refund_payments(services, "ORD-789") == []
    assert post(client, refund_request(ticket_id), "then-pay").json()["status"] == "executed"


def test_keys_belong_to_one_customer(client: TestClient, services: Services) -> None:
    mine = spec_ticket(client)
    assert post(client, refund_request(mine), "shared-key").json()["status"] == "executed"
    theirs = send(client, "Please refund my speaker ORD-1201", customer_id="cust_102")
    body = {
        "ticket_id": theirs["ticket_id"],
        "customer_id": "cust_102",
        "action": "process_refund",
        "parameters": {"order_id": "ORD-1201"},
        "confirmed_by_customer": True,
    }
    response = post(client, body, "shared-key")
    assert response.status_code == 200, response.text
    assert response.json()["replayed"] is False and response.json()["status"] == "executed"
    assert len(refund_payments(services, "ORD-1201")) == 1


def test_a_refused_request_keeps_no_key(client: TestClient, services: Services) -> None:
    ticket_id = spec_ticket(client)
    mismatch = post(client, refund_request(ticket_id, amount="5.00"), "retry-me")
    assert mismatch.status_code == 409 and "differ" in mismatch.json()["detail"]
    assert post(client, refund_request(ticket_id), "retry-me").json()["status"] == "executed"
    with Session(services.engine) as session:
        [stored] = session.exec(select(IdempotentRequest)).all()
    assert (stored.key, stored.state) == ("retry-me", "done")


def test_a_confirmation_naming_other_arguments_executes_nothing(
    client: TestClient, services: Services
) -> None:
    ticket_id = spec_ticket(client)
    [offer] = client.get(f"/v1/support/tickets/{ticket_id}").json()["actions"]
    for parameters in ({"order_id": "ORD-789", "amount": "1.00"}, {"order_id": "ORD-790"}):
        body = {**refund_request(ticket_id), "action_id": offer["id"], "parameters": parameters}
        response = post(client, body, None)
        assert response.status_code == 409, response.text
    wrong_action = {**refund_request(ticket_id), "action": "cancel_order", "action_id": offer["id"]}
    assert post(client, wrong_action, None).status_code == 409
    assert refund_payments(services, "ORD-789") == []
    with Session(services.engine) as session:
        row = session.get(ActionExecution, offer["id"])
    assert row is not None and row.status == ActionStatus.PROPOSED


def test_a_key_still_in_progress_is_refused_and_a_stale_one_taken_over(
    services: Services,
) -> None:
    engine = services.engine
    assert idempotency.begin(engine, customer_id="c", key="k", request_hash="h") is None
    with pytest.raises(idempotency.KeyConflict, match="still being processed"):
        idempotency.begin(engine, customer_id="c", key="k", request_hash="h", wait_s=0.1)
    with session_scope(engine) as session:  # its process died two minutes ago
        [row] = session.exec(select(IdempotentRequest)).all()
        row.started_at = utcnow() - idempotency.STALE - timedelta(seconds=1)
        session.add(row)
    assert idempotency.begin(engine, customer_id="c", key="k", request_hash="h") is None
    idempotency.complete(engine, customer_id="c", key="k", response={"a": 1}, action_id="x")
    assert idempotency.begin(engine, customer_id="c", key="k", request_hash="h") == {"a": 1}
