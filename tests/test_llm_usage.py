"""LLM tokens are counted from what the model reported, stored per reply, and priced in evals."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_models import ToolCallingFake
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from testkit import ai_messages, support_with

from evals.runner import run_suites
from evals.scenarios import SCENARIO_DIR
from graph.builder import build_graph
from supportgraph.services import Services
from supportgraph.support import SupportService

ANSWER = "Refunds to your original payment method take 5-10 business days to appear."
QUESTION = "how long does a refund take to show up on my card?"


def metered_model() -> ToolCallingFake:
    """Every reply reports 120 input and 30 output tokens, as an OpenAI endpoint would."""
    reply = AIMessage(
        ANSWER, usage_metadata={"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    )
    return ToolCallingFake(responses=[reply])


def test_a_turns_tokens_are_stored_on_its_reply(services: Services) -> None:
    model = metered_model()
    support = support_with(services, model)
    result = support.handle_message(ticket_id=None, customer_id="cust_101", message=QUESTION)
    assert model.calls >= 1
    assert (result.prompt_tokens, result.completion_tokens) == (120 * model.calls, 30 * model.calls)
    [reply] = ai_messages(support.services, result.ticket_id)
    assert (reply.prompt_tokens, reply.completion_tokens) == (120 * model.calls, 30 * model.calls)


def test_without_an_llm_no_tokens_are_recorded(services: Services) -> None:
    plain = SupportService(services, build_graph().compile(checkpointer=InMemorySaver()))
    result = plain.handle_message(ticket_id=None, customer_id="cust_101", message=QUESTION)
    assert (result.prompt_tokens, result.completion_tokens) == (0, 0)
    [reply] = ai_messages(services, result.ticket_id)
    assert reply.prompt_tokens is None and reply.completion_tokens is None


@pytest.fixture
def faq_suite(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in (SCENARIO_DIR / "core.jsonl").read_text().splitlines()]
    chosen = [row for row in rows if row["id"] == "status-delivered-speaker"]
    chosen.append(
        {
            "id": "faq-refund-time",
            "customer_id": "cust_101",
            "turns": [{"message": QUESTION, "expect": {"escalated": False}}],
        }
    )
    (tmp_path / "priced.jsonl").write_text("\n".join(json.dumps(row) for row in chosen))
    return tmp_path


def test_the_eval_report_prices_tokens_per_ticket(services_factory: Any, faq_suite: Path) -> None:
    base = services_factory(
        llm_prompt_price_per_1k_tokens_usd=0.5,
        llm_completion_price_per_1k_tokens_usd=2.0,
        ai_cost_per_ticket_usd=0.01,
    )
    model = metered_model()
    services = Services(base.settings, embedder=base.embedder, llm=model)
    report = run_suites("priced", services=services, directory=faq_suite)
    metrics = report["metrics"]
    calls = model.calls
    assert calls >= 1
    assert metrics["prompt_tokens_per_ticket"] == 120 * calls / 2
    assert metrics["completion_tokens_per_ticket"] == 30 * calls / 2
    expected = (0.01 * 2 + 0.5 * 120 * calls / 1000 + 2.0 * 30 * calls / 1000) / 2
    assert metrics["cost_per_ticket_usd"] == pytest.approx(expected)


class RecordingLangSmith:
    """Keeps what an upload sent, with the dataset behaviour of ``langsmith.Client``."""

    def __init__(self) -> None:
        self.datasets: dict[str, SimpleNamespace] = {}
        self.examples: list[SimpleNamespace] = []
        self.projects: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.feedback: list[tuple[Any, str, float]] = []

    def has_dataset(self, *, dataset_name: str) -> bool:
        return dataset_name in self.datasets

    def read_dataset(self, *, dataset_name: str) -> SimpleNamespace:
        return self.datasets[dataset_name]

    def create_dataset(self, dataset_name: str, **kwargs: Any) -> SimpleNamespace:
        self.datasets[dataset_name] = SimpleNamespace(id=f"ds-{len(self.datasets)}")
        return self.datasets[dataset_name]

    def create_examples(self, *, dataset_id: str, examples: list[dict[str, Any]]) -> None:
        for example in examples:
            self.examples.append(
                SimpleNamespace(id=f"ex-{len(self.examples)}", dataset_id=dataset_id, **example)
            )

    def list_examples(self, *, dataset_id: str) -> list[SimpleNamespace]:
        return [e for e in self.examples if e.dataset_id == dataset_id]

    def create_project(self, name: str, **kwargs: Any) -> None:
        self.projects.append({"name": name, **kwargs})

    def create_run(self, name: str, inputs: dict[str, Any], run_type: str, **kwargs: Any) -> None:
        self.runs.append({"name": name, "inputs": inputs, **kwargs})

    def create_feedback(self, run_id: Any, key: str, *, score: float) -> None:
        self.feedback.append((run_id, key, score))


def test_an_eval_run_becomes_a_langsmith_experiment(services: Services, faq_suite: Path) -> None:
    client = RecordingLangSmith()
    first = run_suites("priced", services=services, directory=faq_suite, langsmith_client=client)
    second = run_suites("priced", services=services, directory=faq_suite, langsmith_client=client)

    assert first["langsmith"]["dataset"] == "supportgraph-eval-priced"
    assert first["langsmith"]["runs"] == second["langsmith"]["runs"] == 2
    assert len(client.datasets) == 1 and len(client.examples) == 2  # reused, not duplicated
    assert len(client.projects) == 2
    assert client.projects[0]["metadata"]["metrics"] == first["metrics"]
    example_ids = {e.metadata["scenario"]: e.id for e in client.examples}
    for run in client.runs:
        assert run["reference_example_id"] == example_ids[run["extra"]["metadata"]["scenario"]]
    verdicts = [score for _, key, score in client.feedback if key == "passed"]
    assert len(verdicts) == 4
    assert sum(verdicts[:2]) == 2 - len(first["failures"])
