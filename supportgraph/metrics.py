"""Prometheus metrics of one app: what the service did, how long it took, what waits.

Every metric lives in a registry of the app's own (never the process-wide default), so two
apps in one process, as tests make them, count apart. The call sites hold one-line hooks;
what is counted, under which labels, is decided here. Labels take values from closed sets
(outcomes, rule ids, node and model names), never from what a client sent.

One process's figures: with several server processes, each answers for itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from supportgraph.usage import usage_of
from tools.actions import ACTIONS

if TYPE_CHECKING:
    from supportgraph.api_models import ActionResponse
    from supportgraph.services import Services

# A ``*_created`` sample per series doubles a scrape and tells nothing a restart does not.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NAMESPACE = "supportgraph"

NODE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Read actions answered by the action route besides the side-effecting ones.
KNOWN_ACTIONS = frozenset({*ACTIONS, "check_shipping_eta"})
# Refusals of an action request, by the exception's class name.
ACTION_REFUSALS = {
    "NotFoundError": "not_found",
    "ConflictError": "conflict",
    "KeyConflict": "conflict",
    "ActionError": "invalid",
}


class Metrics:
    """The counters and histograms of one app, and the hooks that move them."""

    def __init__(self, services: Services | None = None) -> None:
        """A registry of its own; with ``services``, the queue is read at each scrape."""
        self.registry = CollectorRegistry()
        registry = self.registry

        def counter(name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
            return Counter(name, doc, list(labels), namespace=NAMESPACE, registry=registry)

        def histogram(
            name: str, doc: str, buckets: tuple[float, ...], labels: Iterable[str] = ()
        ) -> Histogram:
            return Histogram(
                name, doc, list(labels), namespace=NAMESPACE, registry=registry, buckets=buckets
            )

        self.messages = counter(
            "messages",
            "Customer messages, by outcome: handled, failed, not_found, busy.",
            ["outcome"],
        )
        self.turns = counter(
            "turns",
            "Completed turns, by outcome: resolved, open, awaiting_customer, escalated, "
            "with_person, closing.",
            ["outcome"],
        )
        self.actions = counter(
            "actions",
            "Action requests, by action and outcome (the answered status, replayed, or why "
            "refused).",
            ["action", "outcome"],
        )
        self.escalations = counter(
            "escalations", "Hand-offs to a person, by the rule that made them.", ["reason"]
        )
        self.classifications = counter(
            "classifications",
            "Intent classifications, by the cascade tier that decided them.",
            ["tier"],
        )
        self.turn_latency = histogram(
            "turn_latency_seconds",
            "A turn from the message's arrival to its stored reply.",
            TURN_BUCKETS,
        )
        self.node_latency = histogram(
            "node_latency_seconds", "One graph node's run within a turn.", NODE_BUCKETS, ["node"]
        )
        self.llm_calls = counter(
            "llm_calls", "Chat-model calls, by model and outcome (ok, error).", ["model", "outcome"]
        )
        self.llm_tokens = counter(
            "llm_tokens", "Tokens the chat model reported, by model and kind.", ["model", "kind"]
        )
        self.llm_errors = counter(
            "llm_errors", "Failed chat-model calls, by model and error.", ["model", "error"]
        )
        self.llm_latency = histogram(
            "llm_latency_seconds", "One chat-model call.", LLM_BUCKETS, ["model"]
        )
        self.admission_wait = histogram(
            "turn_admission_wait_seconds",
            "How long a message waited on the event loop for a turn slot.",
            WAIT_BUCKETS,
        )
        self.busy_refusals = counter(
            "busy_refusals",
            "Messages refused with 503, by where they waited: admission or turn_slot.",
            ["stage"],
        )
        self.callback = GraphMetricsCallback(self)
        if services is not None:
            registry.register(QueueCollector(services))
            registry.register(LlmGuardCollector(services))

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    # --- hooks ------------------------------------------------------------------------------

    @contextmanager
    def message(self) -> Iterator[None]:
        """Count one message by how its handling ended (an exception's ``metric_outcome``)."""
        try:
            yield
        except Exception as exc:
            outcome = getattr(exc, "metric_outcome", "failed")
            self.messages.labels(outcome).inc()
            if outcome == "busy":
                self.busy_refusals.labels("turn_slot").inc()
            raise
        self.messages.labels("handled").inc()

    def turn(self, state: Mapping[str, Any], outcome: str, latency_ms: float) -> None:
        """A stored turn: its outcome, latency, classifications and any new hand-off."""
        self.turns.labels(outcome).inc()
        self.turn_latency.observe(latency_ms / 1000)
        for view in state.get("intents") or []:
            self.classifications.labels(view.get("classifier_used") or "unknown").inc()
        gate = state.get("gate")
        if gate and gate.get("escalate"):
            self.escalation(gate.get("rule_id"))

    def escalation(self, rule_id: str | None) -> None:
        """One hand-off to a person."""
        self.escalations.labels(rule_id or "unknown").inc()

    def action(self, response: ActionResponse) -> None:
        """An answered action request."""
        outcome = "replayed" if response.replayed else response.status
        self.actions.labels(_action_label(response.action_type), outcome).inc()

    def action_refused(self, action: str, exc: BaseException) -> None:
        """An action request refused (404, 409, 422) or failed."""
        outcome = ACTION_REFUSALS.get(type(exc).__name__, "failed")
        self.actions.labels(_action_label(action), outcome).inc()

    def admission(self, waited_s: float, *, admitted: bool) -> None:
        """A message's wait for admission; one not admitted is refused with 503."""
        self.admission_wait.observe(waited_s)
        if not admitted:
            self.messages.labels("busy").inc()
            self.busy_refusals.labels("admission").inc()


def _action_label(action: str) -> str:
    return action if action in KNOWN_ACTIONS else "other"


class GraphMetricsCallback(BaseCallbackHandler):
    """Times each graph node and each chat-model call of a run, and counts LLM tokens.

    A node's run is the one LangGraph tags ``graph:step:N`` (a tag its own runs inside the
    node do not inherit), named by the ``langgraph_node`` metadata. A model is named by the
    ``ls_model_name`` LangChain reports, else by its invocation parameters.
    """

    def __init__(self, metrics: Metrics) -> None:
        """Record into ``metrics``."""
        super().__init__()
        self._metrics = metrics
        self._started: dict[UUID, tuple[str, float]] = {}  # run -> (node or model, start)
        self._lock = threading.Lock()

    def _start(self, run_id: UUID, label: str) -> None:
        with self._lock:
            self._started[run_id] = (label, time.perf_counter())

    def _finish(self, run_id: UUID) -> tuple[str, float] | None:
        with self._lock:
            started = self._started.pop(run_id, None)
        if started is None:
            return None
        return started[0], time.perf_counter() - started[1]

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start timing a node's run."""
        node = (metadata or {}).get("langgraph_node")
        if node and any(tag.startswith("graph:step:") for tag in tags or ()):
            self._start(run_id, f"node:{node}")

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A node finished."""
        self._node_done(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A node raised (an interrupt among others): its time still counts."""
        self._node_done(run_id)

    def _node_done(self, run_id: UUID) -> None:
        finished = self._finish(run_id)
        if finished is not None:
            label, seconds = finished
            self._metrics.node_latency.labels(label.removeprefix("node:")).observe(seconds)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start timing a chat-model call."""
        self._start(run_id, f"llm:{_model_name(metadata, kwargs.get('invocation_params'))}")

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Start timing a completion-model call."""
        self._start(run_id, f"llm:{_model_name(metadata, kwargs.get('invocation_params'))}")

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Count a call, its tokens and its time."""
        finished = self._finish(run_id)
        model, seconds = finished if finished else ("llm:unknown", 0.0)
        model = model.removeprefix("llm:")
        prompt, completion = usage_of(response)
        metrics = self._metrics
        metrics.llm_calls.labels(model, "ok").inc()
        metrics.llm_tokens.labels(model, "prompt").inc(prompt)
        metrics.llm_tokens.labels(model, "completion").inc(completion)
        metrics.llm_latency.labels(model).observe(seconds)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Count a failed call and its time."""
        finished = self._finish(run_id)
        model, seconds = finished if finished else ("llm:unknown", 0.0)
        model = model.removeprefix("llm:")
        metrics = self._metrics
        metrics.llm_calls.labels(model, "error").inc()
        metrics.llm_errors.labels(model, type(error).__name__).inc()
        metrics.llm_latency.labels(model).observe(seconds)


def _model_name(metadata: Mapping[str, Any] | None, params: Mapping[str, Any] | None) -> str:
    params = params or {}
    name = (
        (metadata or {}).get("ls_model_name")
        or params.get("model")
        or params.get("model_name")
        or params.get("_type")
    )
    return str(name) if name else "unknown"


class QueueCollector(Collector):
    """The escalated tickets waiting for a person, read from the records at each scrape."""

    def __init__(self, services: Services) -> None:
        """Read through these services."""
        self._services = services

    def collect(self) -> Iterable[Metric]:
        """The queue's length and its oldest ticket's wait."""
        from supportgraph.agents.queue import queue_depth

        waiting, oldest_s = queue_depth(self._services)
        length = GaugeMetricFamily(
            f"{NAMESPACE}_queue_length", "Escalated tickets no agent has claimed."
        )
        length.add_metric([], waiting)
        oldest = GaugeMetricFamily(
            f"{NAMESPACE}_queue_oldest_wait_seconds",
            "How long the longest-waiting unclaimed ticket has waited (0 when none waits).",
        )
        oldest.add_metric([], oldest_s)
        return [length, oldest]

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: describing must not read the database."""
        return []


class LlmGuardCollector(Collector):
    """The LLM guard's circuit breaker and retries, read from the guard at each scrape."""

    def __init__(self, services: Services) -> None:
        """Read the guard of these services."""
        self._services = services

    def collect(self) -> Iterable[Metric]:
        """The breaker's state (1 for the state it is in), how often it opened, the retries."""
        from supportgraph.llm_breaker import BreakerState

        guard = self._services.llm_guard
        now = guard.breaker.state
        state = GaugeMetricFamily(
            f"{NAMESPACE}_llm_breaker_state",
            "The LLM circuit breaker's state: 1 for the one it is in.",
            labels=["state"],
        )
        for each in BreakerState:
            state.add_metric([each.value], 1.0 if each is now else 0.0)
        opened = CounterMetricFamily(
            f"{NAMESPACE}_llm_breaker_opened", "How often the LLM circuit breaker opened."
        )
        opened.add_metric([], guard.breaker.opened)
        retries = CounterMetricFamily(
            f"{NAMESPACE}_llm_retries", "LLM calls made again after a failure, within a turn."
        )
        retries.add_metric([], guard.retries)
        return [state, opened, retries]

    def describe(self) -> Iterable[Metric]:
        """Nothing up front, as the queue's collector."""
        return []
