"""POST /v1/support/message through the real app: the spec example, multi-turn tickets, restarts."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from testkit import SPEC_BODY, DocumentedClient, send

from server import ADMITTED_PER_TURN_SLOT, admitted_turns, create_app
from supportgraph.db.models import CustomerMessage, SupportTicket, TicketStatus
from supportgraph.knowledge.embedder import Embedder
from supportgraph.services import Services
from supportgraph.settings import Settings
from supportgraph.support import BusyError, SupportService


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_llm_is_off_in_tests(services: Services) -> None:
    assert not services.settings.llm_enabled
    assert services.settings.llm_model is None


def test_spec_example(client: TestClient) -> None:
    client.post("/v1/support/message", json=SPEC_BODY)  # warm-up on its own ticket
    started = time.perf_counter()
    response = client.post("/v1/support/message", json=SPEC_BODY)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    body = response.json()

    assert {"order_status", "refund"} <= {view["intent"] for view in body["intents"]}
    assert body["intent"] == "multi_intent:order_status+refund"
    assert 0.0 < body["confidence"] <= 1.0
    assert "process_refund" in body["actions_available"]
    offers = [a for a in body["actions"] if a["action"] == "process_refund"]
    assert offers and offers[0]["arguments"]["order_id"] == "ORD-789"
    assert offers[0]["requires_confirmation"] is True
    assert body["escalated"] is False
    source_ids = [source["id"] for source in body["sources"]]
    assert "ORD-789" in source_ids
    assert any("#" in source_id for source_id in source_ids), source_ids
    assert "ORD-789" in body["response"]
    assert "processing" in body["response"]
    assert body["response_latency_ms"] > 0
    assert body["ticket_id"].startswith("tkt_") and body["turn"] == 1
    assert elapsed < 1.0, f"the spec request took {elapsed:.3f}s"


def test_spec_example_is_stored(client: TestClient, services: Services) -> None:
    body = client.post("/v1/support/message", json=SPEC_BODY).json()
    with Session(services.engine) as session:
        ticket = session.get(SupportTicket, body["ticket_id"])
        messages = session.exec(
            select(CustomerMessage).where(CustomerMessage.ticket_id == body["ticket_id"])
        ).all()
    assert ticket is not None
    assert ticket.customer_id == "cust_456"
    assert ticket.status == TicketStatus.AWAITING_CUSTOMER
    assert ticket.primary_intent == body["intents"][0]["intent"]
    assert sorted(m.role for m in messages) == ["ai", "customer"]
    reply = next(m for m in messages if m.role == "ai")
    asked = next(m for m in messages if m.role == "customer")
    assert (body["message_id"], body["customer_message_id"]) == (reply.id, asked.id)
    assert reply.content == body["response"]
    assert reply.response_latency_ms == body["response_latency_ms"]


def test_second_message_sees_earlier_turns(client: TestClient) -> None:
    first = client.post("/v1/support/message", json=SPEC_BODY).json()
    ticket_id = first["ticket_id"]
    second = send(client, "And when will my headphones order ORD-790 arrive?", ticket_id=ticket_id)
    assert second["ticket_id"] == ticket_id
    assert second["turn"] == 2

    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    customer_turns = [(m["turn"], m["role"]) for m in view["messages"] if m["role"] == "customer"]
    assert customer_turns == [(1, "customer"), (2, "customer")]
    assert len(view["messages"]) == 4
    assert view["turn_count"] == 2

    support = client.app.state.support  # type: ignore[attr-defined]
    state = support.graph.get_state(support.config(ticket_id)).values
    transcript = state["transcript"]
    assert len(transcript) == 4
    assert [(m["role"], m["turn"]) for m in transcript] == [
        ("customer", 1), ("ai", 1), ("customer", 2), ("ai", 2)
    ]  # fmt: skip
    assert transcript[0]["content"] == SPEC_BODY["message"]
    assert transcript[3]["content"] == second["response"]


def test_messages_at_once_on_one_ticket_take_turns_and_leave_no_lock(client: TestClient) -> None:
    support = client.app.state.support  # type: ignore[attr-defined]
    ticket_id = send(client, "where is my order ORD-789?")["ticket_id"]
    texts = ["thanks", "and ORD-790?", "is it shipped", "where is it", "ok", "when does it come"]

    def post(text: str) -> int:
        reply = support.handle_message(ticket_id=ticket_id, customer_id="cust_456", message=text)
        return int(reply.turn)

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        turns = sorted(pool.map(post, texts))
    assert turns == [2, 3, 4, 5, 6, 7]  # one after another: none saw another's half-turn
    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert [m["turn"] for m in view["messages"] if m["role"] == "ai"] == [1, 2, 3, 4, 5, 6, 7]
    state = support.graph.get_state(support.config(ticket_id)).values
    assert len(state["transcript"]) == 14
    gc.collect()
    assert len(support._ticket_locks) == 0  # a lock lives only while it is held or awaited


def test_turns_waiting_on_an_llm_are_admitted_besides_the_slots(tmp_path: Path) -> None:
    without = Settings(data_dir=tmp_path, max_concurrent_turns=1)
    with_llm = Settings(
        data_dir=tmp_path, max_concurrent_turns=1, llm_model="m", llm_waiting_turns=16
    )

    assert admitted_turns(without) == ADMITTED_PER_TURN_SLOT
    assert admitted_turns(with_llm) == ADMITTED_PER_TURN_SLOT + 16


@contextmanager
def one_slot_server(
    services_factory: Callable[..., Services], turn_wait_s: float
) -> Iterator[tuple[TestClient, SupportService]]:
    """A served app that runs one turn at a time, and its support service."""
    services = services_factory(max_concurrent_turns=1, turn_wait_s=turn_wait_s)
    with DocumentedClient(create_app(services=services)) as client:
        yield client, client.app.state.support  # type: ignore[attr-defined]


def test_a_message_finding_every_turn_slot_busy_is_refused_with_503(
    services_factory: Callable[..., Services],
) -> None:
    with one_slot_server(services_factory, turn_wait_s=0.05) as (client, support):
        engine = support.services.engine
        with Session(engine) as session:
            tickets_before = len(session.exec(select(SupportTicket)).all())
        assert support._turn_slots.acquire(timeout=1)  # a turn that takes its time
        try:
            refused = client.post("/v1/support/message", json=SPEC_BODY)
        finally:
            support._turn_slots.release()
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "2" and "busy" in refused.json()["detail"]
        with Session(engine) as session:
            assert len(session.exec(select(SupportTicket)).all()) == tickets_before
        assert client.post("/v1/support/message", json=SPEC_BODY).status_code == 200


def test_messages_past_capacity_wait_without_holding_the_other_routes_threads(
    services_factory: Callable[..., Services],
) -> None:
    with one_slot_server(services_factory, turn_wait_s=1.5) as (client, support):
        turn = support.handle_message

        def slow_turn(**message: Any) -> Any:
            time.sleep(3)  # admitted turns that take their time
            return turn(**message)

        support.handle_message = slow_turn
        with ThreadPoolExecutor(max_workers=50) as pool:
            # More waiting messages than the server has worker threads (40).
            messages = [pool.submit(client.post, "/v1/support/message", json=SPEC_BODY)]
            time.sleep(0.3)
            messages += [
                pool.submit(client.post, "/v1/support/message", json=SPEC_BODY) for _ in range(44)
            ]
            time.sleep(0.3)
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            health_s = time.perf_counter() - started
            statuses = sorted(future.result().status_code for future in messages)
        assert health_s < 0.5  # no queue behind the messages waiting for a turn
        admitted = ADMITTED_PER_TURN_SLOT  # one slot
        assert statuses == [200] * admitted + [503] * (45 - admitted)


def test_the_wait_for_a_turn_slot_counts_from_the_message_s_arrival(
    services_factory: Callable[..., Services],
) -> None:
    with one_slot_server(services_factory, turn_wait_s=30) as (_client, support):
        # A message that already spent the whole wait queued for a worker thread.
        arrived = time.perf_counter() - 31
        assert support._turn_slots.acquire(timeout=1)
        try:
            started = time.perf_counter()
            with pytest.raises(BusyError):
                support.handle_message(
                    ticket_id=None, customer_id="cust_456", message="hi", received_at=arrived
                )
            assert time.perf_counter() - started < 5  # refused at once, not after another 30 s
        finally:
            support._turn_slots.release()
        served = support.handle_message(  # a free slot still serves it
            ticket_id=None, customer_id="cust_456", message="hi", received_at=arrived
        )
        assert served.latency_ms >= 31_000  # counted from arrival too


def test_conversation_survives_a_restart(
    services: Services, data_dir: Path, embedder: Embedder
) -> None:
    with DocumentedClient(create_app(services=services)) as first_app:
        ticket_id = first_app.post("/v1/support/message", json=SPEC_BODY).json()["ticket_id"]
        send(first_app, "Is there a fee for returns?", ticket_id=ticket_id)
    services.engine.dispose()

    restarted = Services(services.settings, embedder=embedder)
    assert restarted.settings.data_dir == data_dir
    try:
        with DocumentedClient(create_app(services=restarted)) as second_app:
            third = send(second_app, "Where is my laptop order?", ticket_id=ticket_id)
            assert third["turn"] == 3
            support = second_app.app.state.support  # type: ignore[attr-defined]
            state = support.graph.get_state(support.config(ticket_id)).values
            assert len(state["transcript"]) == 6
            assert state["transcript"][0]["content"] == SPEC_BODY["message"]
            view = second_app.get(f"/v1/support/tickets/{ticket_id}").json()
            assert sorted({m["turn"] for m in view["messages"]}) == [1, 2, 3]
    finally:
        restarted.engine.dispose()


def test_ticket_view_after_a_turn(client: TestClient) -> None:
    body = client.post("/v1/support/message", json=SPEC_BODY).json()
    response = client.get(f"/v1/support/tickets/{body['ticket_id']}")
    assert response.status_code == 200
    view = response.json()
    assert view["id"] == body["ticket_id"] and view["customer_id"] == "cust_456"
    assert [m["role"] for m in view["messages"]] == ["customer", "ai"]
    assert {c["intent"] for c in view["classifications"]} >= {"order_status", "refund"}
    assert sum(c["is_primary"] for c in view["classifications"]) == 1
    [retrieval] = view["retrievals"]
    assert retrieval["query"] == SPEC_BODY["message"]
    assert any(s["id"] == "ORD-789" for s in retrieval["sources"])
    assert retrieval["top_score"] > 0
    [decision] = view["escalation_decisions"]
    assert decision["escalate"] is False
    assert set(decision["signals"]) >= {"low_confidence", "no_answer"}
    [action] = view["actions"]
    assert action["action"] == "process_refund"
    assert action["status"] == "proposed"
    assert action["arguments"]["order_id"] == "ORD-789"
    assert action["policy_rule"] == "refund.unshipped.cancel"
    assert view["feedback"] == []


def test_human_request_escalates(client: TestClient) -> None:
    body = send(client, "I want to talk to a human")
    assert body["intent"] == "human_agent"
    assert body["escalated"] is True
    assert body["escalation_reason"]
    view = client.get(f"/v1/support/tickets/{body['ticket_id']}").json()
    assert view["status"] == "escalated"
    assert view["handoff_summary"]["transcript"][0]["content"] == "I want to talk to a human"


def test_out_of_scope_asks_to_clarify(client: TestClient) -> None:
    body = send(client, "what's the weather in Paris")
    assert body["intent"] == "unknown"
    assert body["escalated"] is False
    assert body["actions_available"] == []
    view = client.get(f"/v1/support/tickets/{body['ticket_id']}").json()
    assert view["status"] == "open"


def test_greetings_and_goodbyes_are_answered_as_such(client: TestClient) -> None:
    hello = send(client, "hi there")
    assert hello["intent"] == "unknown" and hello["response"].startswith("Hi!")
    ticket_id = hello["ticket_id"]
    view = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert view["status"] == "open" and view["primary_intent"] is None

    status = send(client, "is my laptop order shipped yet?", ticket_id=ticket_id)
    assert status["intent"] == "order_status" and "ORD-789" in status["response"]
    resolved = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert resolved["status"] == "resolved" and resolved["primary_intent"] == "order_status"

    # The model alone read these as a question, a status request and a password reset.
    for goodbye in ("ok thanks", "thank you so much!", "that worked, thanks"):
        body = send(client, goodbye, ticket_id=ticket_id)
        assert [(v["intent"], v["sub_intent"]) for v in body["intents"]] == [("unknown", "closing")]
        assert body["response"].startswith("You're welcome")
        assert body["actions_available"] == [] and body["escalated"] is False
    after = client.get(f"/v1/support/tickets/{ticket_id}").json()
    assert (after["status"], after["resolved_at"]) == ("resolved", resolved["resolved_at"])


def test_card_numbers_are_masked_before_storage(client: TestClient) -> None:
    body = send(client, "Where is my order? I paid with 4111 1111 1111 1111")
    view = client.get(f"/v1/support/tickets/{body['ticket_id']}").json()
    stored = view["messages"][0]
    assert "4111 1111 1111 1111" not in stored["content"]
    assert "[card ending 1111]" in stored["content"]
    assert "pii_card_number" in stored["flags"]
