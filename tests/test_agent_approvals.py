"""An agent approves or rejects what policy left for a person, through the real app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from threading import Barrier
from typing import Any

import pytest
from sqlmodel import Session, select
from testkit import SPEC_MESSAGE, DocumentedClient, refund_payments, send

from server import create_app
from supportgraph.auth import keys
from supportgraph.auth.models import AccessRecord
from supportgraph.auth.tokens import issue_token
from supportgraph.db.models import ActionExecution, CustomerMessage
from supportgraph.services import Services

SECRET = "approvals-signing-secret-0123456789abcdef"
REFUND_PROBE = "I want a refund for order ORD-1202, the monitor has dead pixels"  # $899 > $500


@dataclass
class Desk:
    """The app, the services behind it, and a header per caller."""

    client: DocumentedClient
    services: Services
    headers: dict[str, dict[str, str]]

    def post(self, who: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body, headers=self.headers[who])

    def awaiting(self, *, claim_as: str | None = "agent_a") -> tuple[str, str]:
        """A ticket of cust_102 with a refund waiting for a person, claimed by ``claim_as``."""
        answer = send(self.client, REFUND_PROBE, customer_id="cust_102")
        assert answer["escalated"] is True, answer["response"]
        ticket_id = answer["ticket_id"]
        if claim_as:
            claimed = self.post(claim_as, f"/v1/agents/{claim_as}/claim", {"ticket_id": ticket_id})
            assert claimed.status_code == 200, claimed.text
        [action] = actions(self.services, ticket_id)
        assert (action.status, action.requires_human) == ("proposed", True)
        return ticket_id, action.id


@pytest.fixture
def desk(services_factory: Callable[..., Services]) -> Iterator[Desk]:
    services = services_factory(token_secret=SECRET)
    with DocumentedClient(create_app(services=services)) as client:
        for agent_id in ("agent_a", "agent_b"):
            body = {"name": agent_id, "skills": ["*"], "capacity": 5}
            assert client.put(f"/v1/agents/{agent_id}", json=body).status_code == 200

        def key(principal: str) -> dict[str, str]:
            secret = keys.create_key(services.engine, principal_id=principal, scopes=["agent"])
            return {"Authorization": f"Bearer {secret.secret}"}

        headers = {
            "agent_a": key("agent_a"),
            "agent_b": key("agent_b"),
            "customer": {"Authorization": f"Bearer {issue_token(SECRET, 'cust_102')}"},
        }
        yield Desk(client, services, headers)


def actions(services: Services, ticket_id: str) -> list[ActionExecution]:
    with Session(services.engine) as session:
        query = select(ActionExecution).where(ActionExecution.ticket_id == ticket_id)
        return list(session.exec(query).all())


def told(services: Services, ticket_id: str) -> list[str]:
    """What people (not the AI) told the customer in the conversation."""
    with Session(services.engine) as session:
        query = select(CustomerMessage).where(
            CustomerMessage.ticket_id == ticket_id, CustomerMessage.role == "human_agent"
        )
        return [message.content for message in session.exec(query).all()]


def audited(services: Services, ticket_id: str) -> list[tuple[str, str]]:
    with Session(services.engine) as session:
        rows = session.exec(select(AccessRecord).where(AccessRecord.ticket_id == ticket_id))
        return [(row.principal_id, row.operation) for row in rows]


def decide(desk: Desk, who: str, ticket_id: str, action_id: str, verdict: str, **body: Any) -> Any:
    path = f"/v1/agents/{who}/tickets/{ticket_id}/actions/{action_id}/{verdict}"
    return desk.post(who, path, body or None)


def test_approval_refunds_once_and_tells_the_customer(desk: Desk) -> None:
    ticket_id, action_id = desk.awaiting()
    # the customer confirming it themselves does nothing: it waits for a person
    confirm = {"ticket_id": ticket_id, "action_id": action_id, "action": "process_refund",
               "parameters": {"order_id": "ORD-1202"}, "confirmed_by_customer": True}  # fmt: skip
    assert desk.post("customer", "/v1/support/action", confirm).json()["status"] == "proposed"
    assert refund_payments(desk.services, "ORD-1202") == []

    approved = decide(desk, "agent_a", ticket_id, action_id, "approve", note="photos checked")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["action"]["status"] == "executed" and body["decided_by"] == "agent_a"
    assert "$899.00" in body["told_customer"] and "ORD-1202" in body["told_customer"]

    again = decide(desk, "agent_a", ticket_id, action_id, "approve")
    assert again.status_code == 200
    assert again.json()["action"] == body["action"] and again.json()["told_customer"] is None
    [payment] = refund_payments(desk.services, "ORD-1202")
    assert payment.amount_cents == 89900
    assert told(desk.services, ticket_id) == [body["told_customer"]]
    [row] = actions(desk.services, ticket_id)
    assert row.result is not None and row.result["approval"]["by"] == "agent_a"
    assert row.result["approval"]["note"] == "photos checked"
    assert audited(desk.services, ticket_id).count(("agent_a", "approve")) == 2
    seen = desk.client.get(
        f"/v1/support/tickets/{ticket_id}/messages", headers=desk.headers["customer"]
    )
    assert seen.json()["messages"][-1]["content"] == body["told_customer"]


def test_two_approvals_at_once_refund_once(desk: Desk) -> None:
    ticket_id, action_id = desk.awaiting()
    barrier = Barrier(2)

    def approve(_: int) -> Any:
        barrier.wait()
        return decide(desk, "agent_a", ticket_id, action_id, "approve")

    with ThreadPoolExecutor(2) as pool:
        answers = [response.json() for response in pool.map(approve, range(2))]
    assert len(refund_payments(desk.services, "ORD-1202")) == 1
    assert sum(answer["told_customer"] is not None for answer in answers) == 1
    assert len(told(desk.services, ticket_id)) == 1


def test_rejection_performs_nothing_and_says_why(desk: Desk) -> None:
    ticket_id, action_id = desk.awaiting()
    note = "the order shows no damage report; please send a photo first"
    rejected = decide(desk, "agent_a", ticket_id, action_id, "reject", note=note)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["action"]["status"] == "denied"
    assert note in rejected.json()["told_customer"]
    assert decide(desk, "agent_a", ticket_id, action_id, "reject").json()["told_customer"] is None

    late = decide(desk, "agent_a", ticket_id, action_id, "approve")
    assert late.status_code == 409 and "already rejected by agent agent_a" in late.json()["detail"]
    assert refund_payments(desk.services, "ORD-1202") == []
    [row] = actions(desk.services, ticket_id)
    assert row.status == "denied" and row.executed_at is None and note in (row.error or "")
    assert told(desk.services, ticket_id) == [rejected.json()["told_customer"]]


def test_only_the_agent_holding_the_ticket_decides(desk: Desk) -> None:
    waiting_id, waiting_action = desk.awaiting(claim_as=None)
    ticket_id, action_id = desk.awaiting()
    path = f"/v1/agents/agent_a/tickets/{ticket_id}/actions/{action_id}/approve"
    refusals = {
        "agent_b as agent_a": (desk.post("agent_b", path), 403),
        "customer": (desk.post("customer", path), 403),
        "agent_b as itself": (decide(desk, "agent_b", ticket_id, action_id, "approve"), 409),
        "unclaimed ticket": (decide(desk, "agent_a", waiting_id, waiting_action, "approve"), 409),
        "foreign action": (decide(desk, "agent_a", ticket_id, waiting_action, "reject"), 404),
        "unknown action": (decide(desk, "agent_a", ticket_id, "act_nothing", "reject"), 404),
    }  # fmt: skip
    for case, (response, status) in refusals.items():
        assert response.status_code == status, (case, response.text)
        assert response.json()["detail"], case
    assert refund_payments(desk.services, "ORD-1202") == []
    assert {row.status for row in actions(desk.services, ticket_id)} == {"proposed"}
    assert told(desk.services, ticket_id) == []
    assert not {op for _, op in audited(desk.services, ticket_id)} & {"approve", "reject"}


def test_an_offer_the_customer_confirms_is_not_the_agents_to_approve(desk: Desk) -> None:
    ticket_id = send(desk.client, SPEC_MESSAGE)["ticket_id"]  # cust_456's ORD-789, no person needed
    escalate = {"ticket_id": ticket_id, "reason": "I want a person"}
    assert desk.client.post("/v1/support/escalate", json=escalate).status_code == 200
    holder = desk.client.get(f"/v1/support/tickets/{ticket_id}").json()["assigned_agent_id"]
    assert holder in ("agent_a", "agent_b")  # a free agent got it at once
    [offer] = [row for row in actions(desk.services, ticket_id) if row.status == "proposed"]
    answer = decide(desk, holder, ticket_id, offer.id, "approve")
    assert answer.status_code == 409 and "waits for no one's approval" in answer.json()["detail"]
    assert refund_payments(desk.services, "ORD-789") == []


def test_a_policy_refusal_still_refuses_after_approval(desk: Desk) -> None:
    ticket_id, action_id = desk.awaiting()
    # meanwhile part of the order was refunded elsewhere: $899 no longer fits what is left
    desk.services.backend.refund("ORD-1202", Decimal("500.00"), action_id="act_elsewhere")
    approved = decide(desk, "agent_a", ticket_id, action_id, "approve")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["action"]["status"] == "denied"
    assert "At most $399.00" in body["reason"] and "At most $399.00" in body["told_customer"]
    assert [p.amount_cents for p in refund_payments(desk.services, "ORD-1202")] == [50000]
    [row] = actions(desk.services, ticket_id)
    assert (
        row.result is not None
        and row.result["policy"]["rule_id"] == "refund.amount.exceeds_refundable"
    )
    assert row.executed_at is None
