"""/metrics: Prometheus text that counts exactly what was sent, and only an admin reads it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from fake_models import FailingModel, ToolCallingFake
from fastapi.testclient import TestClient
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, col, select
from testkit import SPEC_MESSAGE, DocumentedClient, refund_request, send, support_with

from server import create_app
from supportgraph.agents.queue import queue_depth
from supportgraph.auth import keys
from supportgraph.db.models import EscalationDecision, IntentClassification
from supportgraph.metrics import Metrics
from supportgraph.services import Services

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
NODES = ("guard", "classify", "retrieve", "resolve", "gate")


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def by_label(samples: Samples, name: str, label: str) -> Counter[str]:
    """A counter's samples summed per value of one label."""
    found: Counter[str] = Counter()
    for (sample, labels), count in samples.items():
        if sample == name:
            found[dict(labels)[label]] += count
    return found


def stored_escalations(services: Services) -> Counter[str]:
    with Session(services.engine) as session:
        rows = session.exec(select(EscalationDecision).where(col(EscalationDecision.escalate)))
        return Counter(str(row.rule_id) for row in rows)


def stored_tiers(services: Services) -> Counter[str]:
    with Session(services.engine) as session:
        return Counter(row.classifier_used for row in session.exec(select(IntentClassification)))


def test_counters_move_by_exactly_what_was_sent(client: TestClient, services: Services) -> None:
    before = scrape(client)
    escalations_before, tiers_before = stored_escalations(services), stored_tiers(services)

    offer = send(client, SPEC_MESSAGE)  # a refund offered
    status = send(client, "Where is my order ORD-789?")
    send(client, "and when will it arrive?", ticket_id=status["ticket_id"])
    person = send(client, "I want to talk to a human agent right now")
    assert person["escalated"], person
    sent = 4
    refused = client.post(
        "/v1/support/message",
        json={"customer_id": "cust_nobody", "message": "hello?"},
    )
    assert refused.status_code == 404

    for attempt in ("executed", "replayed"):  # a double click: the same key twice
        confirmed = client.post(
            "/v1/support/action",
            json=refund_request(offer["ticket_id"]),
            headers={"Idempotency-Key": "metrics-1"},
        )
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "executed"
        assert confirmed.json()["replayed"] == (attempt == "replayed")
    escalated = client.post(
        "/v1/support/escalate",
        json={"ticket_id": status["ticket_id"], "reason": "I would like a person"},
    )
    assert escalated.status_code == 200, escalated.text

    after = scrape(client)
    assert moved(before, after, "supportgraph_messages_total", outcome="handled") == sent
    assert moved(before, after, "supportgraph_messages_total", outcome="not_found") == 1
    assert (
        sum(by_label(after, "supportgraph_turns_total", "outcome").values())
        - sum(by_label(before, "supportgraph_turns_total", "outcome").values())
        == sent
    )
    assert moved(before, after, "supportgraph_turns_total", outcome="awaiting_customer") >= 1
    assert moved(before, after, "supportgraph_turns_total", outcome="escalated") == 1
    for outcome in ("executed", "replayed"):
        labels = {"action": "process_refund", "outcome": outcome}
        assert moved(before, after, "supportgraph_actions_total", **labels) == 1
    assert sum(by_label(after, "supportgraph_actions_total", "outcome").values()) == 2

    # Escalations by rule id, and classifications by tier: exactly the records stored.
    new_escalations = stored_escalations(services) - escalations_before
    assert sum(new_escalations.values()) == 2 and new_escalations["escalate.api"] == 1
    assert (
        by_label(after, "supportgraph_escalations_total", "reason")
        - by_label(before, "supportgraph_escalations_total", "reason")
    ) == new_escalations
    new_tiers = stored_tiers(services) - tiers_before
    assert sum(new_tiers.values()) >= sent
    assert (
        by_label(after, "supportgraph_classifications_total", "tier")
        - by_label(before, "supportgraph_classifications_total", "tier")
    ) == new_tiers

    # One observation per turn, and per node each turn ran.
    assert moved(before, after, "supportgraph_turn_latency_seconds_count") == sent
    assert moved(before, after, "supportgraph_turn_latency_seconds_bucket", le="+Inf") == sent
    assert moved(before, after, "supportgraph_turn_admission_wait_seconds_count") == sent + 1
    for node in ("guard", "classify"):
        assert moved(before, after, "supportgraph_node_latency_seconds_count", node=node) == sent
    ran = by_label(after, "supportgraph_node_latency_seconds_count", "node")
    assert set(NODES) <= set(ran) and {"respond", "handoff"} <= set(ran)
    assert value(after, "supportgraph_node_latency_seconds_sum", node="classify") > 0

    # The queue is read at the scrape: the two escalated tickets wait for a person.
    waiting, oldest = queue_depth(services)
    assert value(after, "supportgraph_queue_length") == waiting >= 2
    assert 0 <= value(after, "supportgraph_queue_oldest_wait_seconds") <= oldest + 1


def test_metrics_need_the_admin_scope(client: TestClient, services: Services) -> None:
    def bearer(*scopes: str) -> dict[str, str]:
        secret = keys.create_key(services.engine, principal_id="probe", scopes=scopes).secret
        return {"Authorization": f"Bearer {secret}"}

    anonymous = client.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    for scopes in (("reports",), ("agent",), ("customer:act-as",)):
        refused = client.get("/metrics", headers=bearer(*scopes))
        assert refused.status_code == 403 and "admin" in refused.json()["detail"], scopes
    admitted = client.get("/metrics", headers=bearer("admin"))
    assert admitted.status_code == 200
    assert "supportgraph_messages_total" in {
        family.name + "_total" for family in text_string_to_metric_families(admitted.text)
    }


def test_each_app_counts_apart(client: TestClient, services: Services) -> None:
    send(client, "Where is my order ORD-789?")
    other = Metrics()
    assert value(parse(other.render().decode()), "supportgraph_messages_total") == 0
    assert value(scrape(client), "supportgraph_messages_total", outcome="handled") == 1


def llm_samples(metrics: Metrics) -> Samples:
    return parse(metrics.render().decode())


def test_llm_calls_tokens_and_latency_by_model(services: Services) -> None:
    reply = AIMessage(
        "Refunds take 5-10 business days to appear.",
        usage_metadata={"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
    )
    model = ToolCallingFake(responses=[reply])
    support = support_with(services, model)
    support.handle_message(
        ticket_id=None, customer_id="cust_101", message="how long does a refund take to show up?"
    )
    samples = llm_samples(support.metrics)
    calls = by_label(samples, "supportgraph_llm_calls_total", "model")
    assert model.calls >= 1 and sum(calls.values()) == model.calls
    [name] = calls
    assert value(samples, "supportgraph_llm_calls_total", model=name, outcome="ok") == model.calls
    tokens = {"model": name}
    assert value(samples, "supportgraph_llm_tokens_total", **tokens, kind="prompt") == (
        120 * model.calls
    )
    assert value(samples, "supportgraph_llm_tokens_total", **tokens, kind="completion") == (
        30 * model.calls
    )
    assert value(samples, "supportgraph_llm_latency_seconds_count", **tokens) == model.calls


def test_llm_errors_are_counted_by_model_and_error(services: Services) -> None:
    model = FailingModel(responses=[AIMessage("never")])
    support = support_with(services, model)
    support.handle_message(
        ticket_id=None, customer_id="cust_101", message="how long does a refund take to show up?"
    )
    samples = llm_samples(support.metrics)
    errors = by_label(samples, "supportgraph_llm_errors_total", "error")
    assert model.calls >= 1 and errors == Counter({"TimeoutError": model.calls})
    assert sum(by_label(samples, "supportgraph_llm_calls_total", "outcome").values()) == (
        model.calls
    )


def test_503s_are_counted_where_the_message_waited(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory(turn_wait_s=0.2, max_concurrent_turns=1)
    body = {"customer_id": "cust_456", "message": "Where is my order ORD-789?"}
    with DocumentedClient(create_app(services=services)) as client:
        support = client.app.state.support
        support._turn_slots.acquire()  # the one turn slot is taken: admitted, then refused
        try:
            slot = client.post("/v1/support/message", json=body)
        finally:
            support._turn_slots.release()
        client.app.state.turn_admission = asyncio.Semaphore(0)  # nobody is admitted
        admission = client.post("/v1/support/message", json=body)
        assert slot.status_code == admission.status_code == 503
        samples = scrape(client)
    assert value(samples, "supportgraph_busy_refusals_total", stage="turn_slot") == 1
    assert value(samples, "supportgraph_busy_refusals_total", stage="admission") == 1
    assert value(samples, "supportgraph_messages_total", outcome="busy") == 2
    assert value(samples, "supportgraph_messages_total", outcome="handled") == 0
    assert value(samples, "supportgraph_turn_admission_wait_seconds_count") == 2
    assert value(samples, "supportgraph_turn_admission_wait_seconds_sum") >= 0.2
    assert value(samples, "supportgraph_turn_latency_seconds_count") == 0


def test_the_llm_breaker_and_retries_are_scraped(client: TestClient, services: Services) -> None:
    """The guard's retries, the breaker's state and how often it opened, as the guard counts."""
    before = scrape(client)
    assert value(before, "supportgraph_llm_breaker_state", state="closed") == 1.0
    assert value(before, "supportgraph_llm_breaker_state", state="open") == 0.0
    guard = services.llm_guard

    def unreachable(messages: Any, **_: Any) -> Any:
        raise ConnectionError("the endpoint is down")

    with pytest.raises(ConnectionError):  # one try and the one retry the settings allow
        guard.invoke(RunnableLambda(unreachable), "hello")
    for _ in range(services.settings.llm_breaker_failures):
        guard.breaker.record_failure()

    after = scrape(client)
    assert moved(before, after, "supportgraph_llm_retries_total") == 1
    assert moved(before, after, "supportgraph_llm_breaker_opened_total") == 1
    assert value(after, "supportgraph_llm_breaker_state", state="open") == 1.0
    assert value(after, "supportgraph_llm_breaker_state", state="closed") == 0.0
