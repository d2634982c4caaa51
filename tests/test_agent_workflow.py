"""The human-agent workflow through the real app: queue, claim, reply, resolve, learn."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from threading import Barrier
from typing import Any

import chromadb
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from testkit import DocumentedClient, Prepared, record_counts, send

from policies.queue import QueueItem
from server import create_app
from supportgraph.agents.models import SupportAgent
from supportgraph.agents.queue import (
    estimate_for_handoff,
    fill_queue_inputs,
    order_value,
    record_queue_inputs,
    snapshot,
    wait_view,
)
from supportgraph.agents.workflow import ConflictError, claim, register_agent
from supportgraph.db.engine import session_scope
from supportgraph.db.models import (
    EscalationDecision,
    ResolutionFeedback,
    SupportTicket,
    TicketStatus,
    utcnow,
)
from supportgraph.intents.learning import learn
from supportgraph.services import Services
from supportgraph.settings import Settings
from supportgraph.support import NotFoundError

FIRST = "Hi, this is Marcus Lee (marcus.lee@example.com, +1-555-0101). Where is my order ORD-1101?"
ANSWER = (
    "Marcus Lee's parcel ORD-1101 was held at the carrier's depot after a failed delivery. "
    "We booked a redelivery for tomorrow and emailed marcus.lee@example.com; a depot hold "
    "is released by asking the carrier to redeliver. Call +1-555-0101 if it does not come."
)


@pytest.fixture
def private_kb_client(
    services: Services, prepared: Prepared, tmp_path: Path
) -> Iterator[TestClient]:
    """The app over a copy of the knowledge index, so that resolutions stay in this test."""
    copy = tmp_path / "chroma"
    shutil.copytree(prepared.chroma_path, copy)
    services.__dict__["chroma"] = chromadb.PersistentClient(
        path=str(copy), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    with DocumentedClient(create_app(services=services)) as test_client:
        yield test_client


def register(client: TestClient, agent_id: str, *, skills: list[str], capacity: int = 2) -> None:
    response = client.put(
        f"/v1/agents/{agent_id}",
        json={"name": f"Agent {agent_id}", "skills": skills, "capacity": capacity},
    )
    assert response.status_code == 200, response.text


def test_round_trip_escalate_claim_reply_resolve_learn(
    private_kb_client: TestClient, services: Services
) -> None:
    client = private_kb_client
    ticket_id = send(client, FIRST, customer_id="cust_101")["ticket_id"]
    handed = send(client, "I want to talk to a human", ticket_id=ticket_id, customer_id="cust_101")
    assert handed["escalated"] is True
    assert "number 1 in the queue" in handed["response"]
    assert "estimated wait" not in handed["response"]  # nothing measured yet: no invented time

    register(client, "agent_sam", skills=["*"])
    [entry] = client.get("/v1/agents/queue").json()
    assert entry["ticket_id"] == ticket_id and entry["position"] == 1
    assert entry["estimated_wait_s"] is None and "no resolved tickets" in entry["basis"]
    assert entry["summary"] and entry["order_value"] == "64.50"

    claimed = client.post("/v1/agents/agent_sam/claim").json()  # no body: the best ticket
    assert claimed["ticket_id"] == ticket_id and claimed["status"] == "assigned"
    reply = "Sorry about that! I'm sending a replacement machine today."
    posted = client.post(f"/v1/agents/agent_sam/tickets/{ticket_id}/reply", json={"message": reply})
    assert posted.status_code == 200, posted.text

    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert [m["content"] for m in view["messages"] if m["role"] == "human_agent"] == [reply]
    later = client.get(f"/v1/support/tickets/{ticket_id}/messages", params={"after_turn": 1})
    assert [m["role"] for m in later.json()["messages"]] == ["customer", "ai", "human_agent"]
    transcript = services_state(client, ticket_id)["transcript"]
    assert transcript[-1] == {"role": "human_agent", "content": reply, "turn": 2}

    resolved = client.post(
        f"/v1/agents/agent_sam/tickets/{ticket_id}/resolve",
        json={"correct_intent": "order_status", "answer": ANSWER, "correction_type": "answer"},
    )
    assert resolved.status_code == 200, resolved.text
    assert_resolution_stored(client, services, ticket_id, resolved.json())

    report = learn(services)
    assert report.n_feedback_train + report.n_feedback_holdback >= 1


def services_state(client: TestClient, ticket_id: str) -> dict[str, Any]:
    support = client.app.state.support  # type: ignore[attr-defined]
    return dict(support.graph.get_state(support.config(ticket_id)).values)


def assert_resolution_stored(
    client: TestClient, services: Services, ticket_id: str, body: dict[str, Any]
) -> None:
    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert (view["status"], view["resolved_by"]) == ("resolved", "human")
    assert view["assigned_agent_id"] == "agent_sam" and view["resolved_at"]
    [feedback] = view["feedback"]
    assert feedback["message_text"] == FIRST  # the real question, not "talk to a human"
    assert feedback["predicted_intent"] == view["primary_intent"]
    assert (feedback["correct_intent"], feedback["correction_type"]) == ("order_status", "answer")
    assert feedback["corrected_answer"] == ANSWER and feedback["agent_id"] == "agent_sam"

    query = "parcel held at the carrier depot, ask for redelivery"
    hits = services.knowledge.search(
        services.embedder.embed_one(query), query=query, kinds=("resolution",)
    )
    [hit] = [hit for hit in hits if hit.id == body["knowledge_id"]]
    for personal in ("Marcus", "Lee", "marcus.lee@example.com", "555-0101", "ORD-1101"):
        assert personal not in hit.text and personal not in hit.title
    assert "redelivery" in hit.text and "Where is my order" in hit.text


# --- the queue, capacity and the wait, over tickets written directly ---------------------


def escalated(
    services: Services,
    ticket_id: str,
    *,
    minutes_ago: float,
    customer_id: str = "cust_456",
    sentiment: float = 0.0,
    order_ids: tuple[str, ...] = (),
    rule_id: str | None = None,
    intent: str | None = None,
    by_older_version: bool = False,
) -> None:
    """A ticket waiting in the queue, as the support service would have stored it.

    ``by_older_version``: as a version that did not store the queue's inputs stored it.
    """
    with session_scope(services.engine) as session:
        session.add(
            SupportTicket(
                id=ticket_id,
                customer_id=customer_id,
                status=TicketStatus.ESCALATED,
                primary_intent=intent,
                escalated_at=utcnow() - timedelta(minutes=minutes_ago),
                handoff_summary={
                    "entities": {"order_ids": list(order_ids)},
                    "rule_id": rule_id,
                    "summary": f"summary of {ticket_id}",
                    "open_question": "help",
                },
            )
        )
        session.flush()
        session.add(
            EscalationDecision(
                ticket_id=ticket_id,
                escalate=True,
                score=1.0,
                threshold=0.5,
                signals={"negative_sentiment": {"value": sentiment, "contribution": 0.0}},
                reason="test",
            )
        )
        ticket = session.get(SupportTicket, ticket_id)
        assert ticket is not None
        if not by_older_version:
            record_queue_inputs(session, services.backend, ticket)


def handled(services: Services, ticket_id: str, *, agent_id: str, minutes: float | None) -> None:
    """A ticket an agent holds (minutes=None) or resolved after handling it that long."""
    now = utcnow()
    with session_scope(services.engine) as session:
        session.add(
            SupportTicket(
                id=ticket_id,
                customer_id="cust_456",
                status=TicketStatus.ASSIGNED if minutes is None else TicketStatus.RESOLVED,
                assigned_agent_id=agent_id,
                assigned_at=now - timedelta(minutes=(minutes or 0) + 5),
                resolved_at=None if minutes is None else now - timedelta(minutes=5),
                resolved_by=None if minutes is None else "human",
            )
        )


def test_queue_order_sentiment_wait_value_and_urgency(
    client: TestClient, services: Services
) -> None:
    escalated(services, "tkt_calm", minutes_ago=2, intent="refund")
    escalated(services, "tkt_angry", minutes_ago=1, sentiment=0.9, intent="billing")
    escalated(services, "tkt_old", minutes_ago=50, intent="refund")
    escalated(services, "tkt_laptop", minutes_ago=2, order_ids=("ORD-789",), intent="refund")
    escalated(services, "tkt_not_theirs", minutes_ago=2, order_ids=("ORD-1202",), intent="refund")
    escalated(services, "tkt_distress", minutes_ago=0, rule_id="escalate.always.distress")

    queue = client.get("/v1/agents/queue").json()
    assert [e["ticket_id"] for e in queue] == [
        "tkt_distress", "tkt_angry", "tkt_old", "tkt_laptop", "tkt_calm", "tkt_not_theirs"
    ]  # fmt: skip
    assert [e["position"] for e in queue] == [1, 2, 3, 4, 5, 6]
    laptop = next(e for e in queue if e["ticket_id"] == "tkt_laptop")
    assert laptop["order_value"] == "1299.00" and laptop["priority_terms"]["order_value"] > 0
    assert next(e for e in queue if e["ticket_id"] == "tkt_not_theirs")["order_value"] == "0"

    register(client, "agent_refunds", skills=["refund"], capacity=5)
    mine = client.get("/v1/agents/queue", params={"agent_id": "agent_refunds"}).json()
    assert "tkt_angry" not in [e["ticket_id"] for e in mine]  # billing is not their skill
    first = client.post("/v1/agents/agent_refunds/claim", json={}).json()
    assert first["ticket_id"] == "tkt_distress"  # no subject known: anyone takes it
    second = client.post("/v1/agents/agent_refunds/claim", json={}).json()
    assert second["ticket_id"] == "tkt_old"  # the best refund ticket, skipping billing
    assert "tkt_old" not in [e["ticket_id"] for e in client.get("/v1/agents/queue").json()]


def test_tickets_queued_by_an_older_version_are_ranked_by_the_same_inputs(
    services: Services,
) -> None:
    escalated(services, "tkt_old_angry", minutes_ago=1, sentiment=0.9, by_older_version=True)
    escalated(
        services, "tkt_old_laptop", minutes_ago=2, order_ids=("ORD-789",), by_older_version=True
    )
    escalated(services, "tkt_new", minutes_ago=3)
    assert next(e.item.ticket_id for e in snapshot(services)) == "tkt_new"  # inputs missing

    assert fill_queue_inputs(services) == 2
    entries = {e.item.ticket_id: e.item for e in snapshot(services)}
    assert entries["tkt_old_angry"].negative_sentiment == 0.9
    assert entries["tkt_old_laptop"].order_value == Decimal("1299.00")
    assert next(e.item.ticket_id for e in snapshot(services)) == "tkt_old_angry"
    assert fill_queue_inputs(services) == 0  # once only


def test_capacity_and_claim_conflicts(client: TestClient, services: Services) -> None:
    escalated(services, "tkt_a", minutes_ago=5)
    escalated(services, "tkt_b", minutes_ago=4)
    register(client, "agent_one", skills=["*"], capacity=1)
    register(client, "agent_two", skills=["*"], capacity=1)
    assert client.post("/v1/agents/agent_one/claim", json={"ticket_id": "tkt_a"}).status_code == 200

    full = client.post("/v1/agents/agent_one/claim", json={"ticket_id": "tkt_b"})
    assert full.status_code == 409 and "capacity" in full.json()["detail"]
    taken = client.post("/v1/agents/agent_two/claim", json={"ticket_id": "tkt_a"})
    assert taken.status_code == 409 and "another agent" in taken.json()["detail"]
    assert client.get("/v1/agents/agent_one").json()["open_tickets"] == 1

    register(client, "agent_one", skills=["*"], capacity=2)  # an update, not a second agent
    assert client.post("/v1/agents/agent_one/claim", json={}).json()["ticket_id"] == "tkt_b"
    empty = client.post("/v1/agents/agent_two/claim", json={})
    assert empty.status_code == 404 and "no escalated ticket" in empty.json()["detail"]
    with Session(services.engine) as session:
        assert session.exec(select(func.count()).select_from(SupportAgent)).one() == 2


def test_estimated_wait_comes_from_measured_handling_times(
    client: TestClient, services: Services
) -> None:
    escalated(services, "tkt_first", minutes_ago=30)
    escalated(services, "tkt_second", minutes_ago=20)
    escalated(services, "tkt_third", minutes_ago=10)
    register(client, "agent_one", skills=["*"], capacity=1)
    no_history = client.get("/v1/agents/queue").json()
    assert {e["estimated_wait_s"] for e in no_history} == {None}

    register(client, "agent_two", skills=["*"], capacity=1)
    for index, minutes in enumerate((10, 20, 30)):  # mean handling time: 20 minutes
        handled(services, f"tkt_done{index}", agent_id="agent_one", minutes=minutes)
    handled(services, "tkt_busy1", agent_id="agent_one", minutes=None)
    handled(services, "tkt_busy2", agent_id="agent_two", minutes=None)

    queue = client.get("/v1/agents/queue").json()
    # both agents busy: 1, 2, 3 tickets must finish, 2 at a time, 1200 s each
    assert [(e["ticket_id"], e["estimated_wait_s"]) for e in queue] == [
        ("tkt_first", 600.0), ("tkt_second", 1200.0), ("tkt_third", 1800.0)
    ]  # fmt: skip
    assert {e["measured_resolutions"] for e in queue} == {3}
    mine = client.get("/v1/support/tickets/tkt_second/messages").json()
    assert mine["queue"] == {**{k: queue[1][k] for k in ("position", "estimated_wait_s")},
                             "basis": queue[1]["basis"], "measured_resolutions": 3}  # fmt: skip

    handed = send(client, "I want to talk to a human", customer_id="cust_102")
    assert "number 4 in the queue. The estimated wait is about 40 minutes." in handed["response"]


def test_a_handoffs_place_is_the_one_the_full_ranking_gives(
    client: TestClient, services: Services
) -> None:
    """The handoff compares each waiting ticket with the new one instead of ranking them all."""
    intents = ("refund", "billing", "order_status", None, "human_agent")
    rules = (None, None, "escalate.always.legal_threat", None, "escalate.always.billing")
    for index in range(40):
        escalated(
            services,
            f"tkt_q{index:02d}",
            minutes_ago=(index * 7) % 90,
            sentiment=(index % 5) / 4,
            order_ids=("ORD-789",) if index % 3 == 0 else (),
            rule_id=rules[index % len(rules)],
            intent=intents[index % len(intents)],
        )
    register(client, "agent_any", skills=["*"], capacity=2)
    register(client, "agent_refunds", skills=["refund"], capacity=3)
    register(client, "agent_billing", skills=["billing", "refund"], capacity=1)
    handled(services, "tkt_done", agent_id="agent_any", minutes=12)
    handled(services, "tkt_busy", agent_id="agent_refunds", minutes=None)
    positions = []
    for intent, sentiment, orders, rule_id in [
        ("refund", 0.4, ["ORD-789"], None),
        ("billing", 0.0, [], None),
        (None, 1.0, [], "escalate.always.legal_threat"),
        ("order_status", 0.25, [], None),
    ]:
        estimate = estimate_for_handoff(
            services,
            ticket_id="tkt_new",
            customer_id="cust_456",
            intent=intent,
            negative_sentiment=sentiment,
            order_ids=orders,
            rule_id=rule_id,
        )
        item = QueueItem(
            "tkt_new", sentiment, 0.0, order_value(services.backend, "cust_456", orders), rule_id,
            intent,
        )  # fmt: skip
        ranked = next(e for e in snapshot(services, extra=item) if e.item.ticket_id == "tkt_new")
        assert estimate == wait_view(ranked), (intent, sentiment, rule_id)
        positions.append(estimate["position"])
    assert len(set(positions)) >= 3 and max(positions) > 20  # not all first, not all last


def test_bad_requests_are_4xx_and_change_nothing(client: TestClient, services: Services) -> None:
    escalated(services, "tkt_waiting", minutes_ago=5)
    ticket_id = send(client, "Where is my order ORD-789?")["ticket_id"]  # answered, not escalated
    register(client, "agent_one", skills=["*"])
    register(client, "agent_two", skills=["*"])
    client.post("/v1/agents/agent_one/claim", json={"ticket_id": "tkt_waiting"})
    before = (record_counts(services.engine), feedback_count(services))
    resolve_body = {"correct_intent": "refund", "answer": "done", "correction_type": "none"}
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("post", "/v1/agents/agent_nobody/claim", {}, 404),
        ("get", "/v1/agents/agent_nobody", {}, 404),
        ("get", "/v1/agents/queue?agent_id=agent_nobody", {}, 404),
        ("post", "/v1/agents/agent_two/claim", {"ticket_id": "tkt_nothing"}, 404),
        ("post", "/v1/agents/agent_two/claim", {"ticket_id": ticket_id}, 409),
        ("post", "/v1/agents/agent_two/tickets/tkt_waiting/reply", {"message": "hi"}, 409),
        ("post", "/v1/agents/agent_two/tickets/tkt_waiting/resolve", resolve_body, 409),
        ("post", f"/v1/agents/agent_one/tickets/{ticket_id}/resolve", resolve_body, 409),
        ("post", "/v1/agents/agent_one/tickets/tkt_nothing/reply", {"message": "hi"}, 404),
        ("post", "/v1/agents/agent_one/tickets/tkt_waiting/reply", {"message": "  "}, 422),
        ("post", "/v1/agents/agent_one/tickets/tkt_waiting/resolve",
         {**resolve_body, "correction_type": "oops"}, 422),
        ("post", "/v1/agents/agent_one/tickets/tkt_waiting/resolve",
         {**resolve_body, "correct_intent": "teleport"}, 422),
        ("put", "/v1/agents/agent_three", {"name": "X", "skills": ["juggling"]}, 422),
        ("put", "/v1/agents/agent_three", {"name": "X", "capacity": 0}, 422),
        ("put", "/v1/agents/queue", {"name": "X"}, 422),
        ("get", "/v1/support/tickets/tkt_nothing/messages", {}, 404),
    ]  # fmt: skip
    for method, url, body, status in cases:
        response = client.request(method, url, json=body if method != "get" else None)
        assert response.status_code == status, (url, body, response.text)
        assert response.json()["detail"], url
    assert (record_counts(services.engine), feedback_count(services)) == before
    assert client.get("/v1/support/tickets/tkt_waiting").json()["status"] == "assigned"


def feedback_count(services: Services) -> int:
    with Session(services.engine) as session:
        return int(session.exec(select(func.count()).select_from(ResolutionFeedback)).one())


# --- atomic claims on SQLite and PostgreSQL -------------------------------------------------


def race(calls: list[Callable[[], Any]]) -> list[str]:
    """Run the calls at once; 'ok' or the error's class name for each."""
    barrier = Barrier(len(calls))

    def run(call: Callable[[], Any]) -> str:
        barrier.wait()
        try:
            call()
        except (ConflictError, NotFoundError) as exc:
            return type(exc).__name__
        return "ok"

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_claims_are_atomic_on_every_database(
    empty_engine: Callable[[], Engine], tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    services = Services(settings, engine=empty_engine())
    for index in range(4):
        escalated(services, f"tkt_race{index}", minutes_ago=index)
    register_agent(services.engine, agent_id="agent_one", name="One", skills=["*"], capacity=1)
    for index in range(4):
        register_agent(services.engine, agent_id=f"agent_{index}", name="N", skills=[], capacity=5)

    one_slot = race(
        [partial(claim, services, agent_id="agent_one", ticket_id=f"tkt_race{i}") for i in range(3)]
    )
    assert sorted(one_slot) == ["ConflictError", "ConflictError", "ok"]
    one_ticket = race(
        [partial(claim, services, agent_id=f"agent_{i}", ticket_id="tkt_race3") for i in range(4)]
    )
    assert sorted(one_ticket) == ["ConflictError"] * 3 + ["ok"]
    with Session(services.engine) as session:
        held = session.exec(
            select(SupportTicket).where(SupportTicket.status == TicketStatus.ASSIGNED)
        ).all()
    assert len(held) == 2
    assert sum(ticket.assigned_agent_id == "agent_one" for ticket in held) == 1
