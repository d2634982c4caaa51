"""POST /v1/support/escalate as the spec publishes it: assigned through the queue, or waiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from testkit import send

from policies.queue import AgentSlot, free_agents
from supportgraph.agents.workflow import register_agent
from supportgraph.db.engine import session_scope
from supportgraph.db.models import EscalationDecision, SupportTicket, TicketStatus, utcnow
from supportgraph.services import Services

SPEC_FIELDS = {
    "escalation_id",
    "assigned_agent",
    "estimated_wait_minutes",
    "queue_position",
    "handoff_context_included",
}


def _escalate(client: TestClient, ticket_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "ticket_id": ticket_id,
        "reason": "customer is frustrated",
        "conversation_summary": "Laptop ORD-789 still processing after 3 days; wants a refund.",
        "priority": "high",
        "escalation_signals": ["negative_sentiment", "repeat_contact"],
        **extra,
    }
    response = client.post("/v1/support/escalate", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_with_nobody_free_the_ticket_waits_and_no_wait_is_invented(
    client: TestClient, services: Services
) -> None:
    ticket_id = send(client, "Where is my order ORD-789?")["ticket_id"]
    body = _escalate(client, ticket_id)
    assert set(body) >= SPEC_FIELDS
    assert body["assigned_agent"] is None and body["queue_position"] == 1
    assert body["estimated_wait_minutes"] is None and body["estimated_wait_basis"]
    assert body["handoff_context_included"] is True
    with Session(services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        decision = session.get(EscalationDecision, body["escalation_id"])
    assert ticket is not None and ticket.status == TicketStatus.ESCALATED
    assert ticket.priority == 2  # "high"
    assert decision is not None and decision.ticket_id == ticket_id
    assert decision.signals["caller_signals"] == {"names": ["negative_sentiment", "repeat_contact"]}
    assert ticket.handoff_summary is not None
    assert ticket.handoff_summary["caller_summary"].startswith("Laptop ORD-789")


def test_a_free_agent_who_can_take_it_is_assigned(client: TestClient, services: Services) -> None:
    register_agent(services.engine, agent_id="busy", name="Busy", skills=["*"], capacity=1)
    register_agent(services.engine, agent_id="refunds", name="R", skills=["refund"], capacity=2)
    register_agent(services.engine, agent_id="general", name="G", skills=["*"], capacity=3)
    first = send(client, "Where is my order ORD-789?")["ticket_id"]
    assert _escalate(client, first)["assigned_agent"] == "busy"  # all idle: ties by id
    second = send(client, "Where is my order ORD-789?")["ticket_id"]
    body = _escalate(client, second, priority=1)
    assert body["assigned_agent"] == "general"  # busy is full; refunds lacks order_status
    assert body["queue_position"] is None
    with Session(services.engine) as session:
        tickets = {t.id: t for t in session.exec(select(SupportTicket))}
    assert tickets[second].status == TicketStatus.ASSIGNED
    assert tickets[second].assigned_agent_id == "general" and tickets[second].priority == 1


@pytest.mark.parametrize("priority", ["soon", 0, 6])
def test_an_unknown_priority_is_422(client: TestClient, priority: Any) -> None:
    ticket_id = send(client, "Where is my order ORD-789?")["ticket_id"]
    response = client.post(
        "/v1/support/escalate", json={"ticket_id": ticket_id, "priority": priority}
    )
    assert response.status_code == 422
    assert any("priority" in error["loc"] for error in response.json()["detail"])


@pytest.mark.parametrize(
    ("agents", "intent", "expected"),
    [
        ([AgentSlot("a", ("*",), 2, 1), AgentSlot("b", ("*",), 2, 0)], "refund", ["b", "a"]),
        ([AgentSlot("a", ("*",), 1, 1)], "refund", []),  # full
        ([AgentSlot("a", ("billing",), 3, 0)], "refund", []),  # not their skill
        ([AgentSlot("a", ("billing",), 3, 0)], "human_agent", ["a"]),  # anyone takes these
        ([AgentSlot("b", ("*",), 4, 1), AgentSlot("a", ("*",), 2, 1)], None, ["b", "a"]),
    ],
    ids=["least_loaded_first", "full", "skill", "general_intent", "by_share_of_capacity"],
)
def test_free_agents(agents: list[AgentSlot], intent: str | None, expected: list[str]) -> None:
    assert free_agents(agents, intent) == expected


def test_the_wait_comes_from_measured_handling_times(
    client: TestClient, services: Services
) -> None:
    now = utcnow()
    with session_scope(services.engine) as session:  # one human resolution that took 10 min
        session.add(
            SupportTicket(
                id="tkt_measured",
                customer_id="cust_101",
                status=TicketStatus.RESOLVED,
                resolved_by="human",
                assigned_at=now - timedelta(minutes=20),
                resolved_at=now - timedelta(minutes=10),
            )
        )
    register_agent(services.engine, agent_id="solo", name="Solo", skills=["*"], capacity=1)
    held = send(client, "Where is my order ORD-789?")["ticket_id"]
    assert _escalate(client, held)["assigned_agent"] == "solo"
    waiting = send(client, "Where is my order ORD-789?")["ticket_id"]
    body = _escalate(client, waiting)
    assert body["assigned_agent"] is None and body["queue_position"] == 1
    assert body["estimated_wait_minutes"] == 10.0  # one ticket to finish, at one at a time
