"""Benchmarks for the figures the product promises: tier latencies and a turn end to end."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from supportgraph.intents.metrics import percentile
from supportgraph.intents.model import HOLDOUT_FILE, read_labelled_csv
from supportgraph.intents.rules import match_rules
from supportgraph.knowledge.embedder import Embedder
from supportgraph.services import Services


def _timed(action: Callable[[], Any], repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) * 1000 / repeat


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 50), 3),
        "p95_ms": round(percentile(samples, 95), 3),
        "p99_ms": round(percentile(samples, 99), 3),
    }


def bench_classifier(services: Services) -> dict[str, Any]:
    """Rules tier alone, and the embedding tier (embed + model) one message at a time."""
    texts = [row.text for row in read_labelled_csv(HOLDOUT_FILE)]
    classifier = services.classifier
    taxonomy = classifier.taxonomy
    classifier.predict_text("warm up")
    rules = [_timed(partial(match_rules, text, taxonomy), repeat=20) for text in texts]
    embed = [_timed(partial(services.embedder.embed_one, text)) for text in texts]
    tier = []
    for text in texts:
        services.embedder.forget()  # the message was embedded above: time it as a new one
        tier.append(_timed(partial(classifier.predict_text, text)))
    return {
        "rules_tier": _summary(rules),
        "embedding": _summary(embed),
        "embedding_tier": _summary(tier),
    }


def bench_turns(services: Services, *, turns: int = 100) -> dict[str, Any]:
    """Whole turns through the service (graph, checkpoint, storage) on the demo store."""
    from server import open_support_service

    texts = [row.text for row in read_labelled_csv(HOLDOUT_FILE)][:turns]
    samples: list[float] = []
    cpu: list[float] = []
    parts: dict[str, list[float]] = {}
    with open_support_service(services) as support:
        support.handle_message(ticket_id=None, customer_id="cust_456", message="warm up")
        for index, text in enumerate(texts):
            started, cpu_started = time.perf_counter(), time.process_time()
            result = support.handle_message(
                ticket_id=None, customer_id=f"cust_{2000 + index % 200}", message=text
            )
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            for name, ms in {**result.node_latency_ms, **result.phase_ms}.items():
                parts.setdefault(name, []).append(ms)
    return {
        "turn": {**_summary(samples), "mean_ms": round(sum(samples) / len(samples), 3)},
        "turn_cpu": _summary(cpu),
        "turn_breakdown": turn_breakdown(parts, len(samples)),
    }


def turn_breakdown(parts: dict[str, list[float]], turns: int) -> dict[str, dict[str, float]]:
    """Each node's and phase's share of the turns, largest mean first.

    A node that ran in only some turns (handoff, confirm) has a mean over every turn, so
    the means add up to the mean turn.
    """
    rows = {
        name: {
            "turns": len(values),
            "mean_ms": round(sum(values) / turns, 3),
            "p50_ms": round(percentile(values, 50), 3),
            "p95_ms": round(percentile(values, 95), 3),
        }
        for name, values in parts.items()
    }
    return dict(sorted(rows.items(), key=lambda item: -item[1]["mean_ms"]))


class _NoisyEmbedder(Embedder):
    """Ingests a large synthetic corpus fast: real vectors of the base texts plus small noise.

    Only ingestion is faked; queries are embedded by the real model, and search cost (what
    is measured) does not depend on how the stored vectors were made.
    """

    def __init__(self, real: Embedder, seed: int = 7) -> None:
        super().__init__(real.model_name)
        self._real = real
        self._rng = np.random.default_rng(seed)
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        bases = [text.split(" [variant ", 1)[0] for text in texts]
        missing = [b for b in dict.fromkeys(bases) if b not in self._cache]
        if missing:
            self._cache.update(zip(missing, self._real.embed(missing), strict=True))
        vectors = np.stack([self._cache[b] for b in bases])
        vectors = vectors + self._rng.normal(0, 0.02, vectors.shape).astype(np.float32)
        return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), np.float32)


def bench_retrieval(
    services: Services, *, chunks: int = 10_000, queries: int = 200
) -> dict[str, Any]:
    """Hybrid search latency over ``chunks`` indexed chunks (variants of the help articles)."""
    import tempfile

    import chromadb

    from supportgraph.knowledge.chunking import Chunk, chunk_directory
    from supportgraph.knowledge.index import KnowledgeIndex

    base = chunk_directory(Path(services.articles_dir))
    corpus = [
        Chunk(
            f"{c.article_id}-v{i}#{c.id.split('#', 1)[1]}",
            f"{c.article_id}-v{i}",
            c.title,
            c.heading,
            f"{c.text} [variant {i}]",
        )
        for i in range(chunks // len(base) + 1)
        for c in base
    ][:chunks]
    questions = [row.text for row in read_labelled_csv(HOLDOUT_FILE)][:queries]
    vectors = services.embedder.embed(questions)
    with tempfile.TemporaryDirectory() as folder:
        client = chromadb.PersistentClient(
            path=folder, settings=chromadb.Settings(anonymized_telemetry=False)
        )
        index = KnowledgeIndex(client, _NoisyEmbedder(services.embedder))
        index.sync(corpus)
        index.search(vectors[0], query=questions[0])
        samples = [
            _timed(partial(index.search, vector, query=question, k=5))
            for question, vector in zip(questions, vectors, strict=True)
        ]
        return {"retrieval": {"chunks": index.count(), **_summary(samples)}}


QUEUE_INTENTS = ("refund", "billing", "order_status", "cancel_order", "human_agent", None)


def bench_queue(services: Services, *, waiting: int = 1000) -> dict[str, Any]:
    """A handoff's queue position and wait with ``waiting`` tickets already queued.

    Runs on a scratch SQLite database (the demo store, five agents of varied skills), so the
    data directory is left as it was.
    """
    import tempfile

    from supportgraph.agents.models import SupportAgent
    from supportgraph.agents.queue import estimate_for_handoff, record_queue_inputs, snapshot
    from supportgraph.db.engine import make_engine, session_scope
    from supportgraph.db.models import SupportTicket, TicketStatus, utcnow
    from supportgraph.demo.seed import seed_demo_store

    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/queue.sqlite")
        scratch = services.with_engine(engine)
        seed_demo_store(scratch.engine)
        now = utcnow()
        with session_scope(engine) as session:
            for index, skills in enumerate(
                (["*"], ["refund"], ["billing"], ["refund", "billing"], ["order_status"])
            ):
                session.add(SupportAgent(id=f"agent_{index}", name=f"Agent {index}", skills=skills))
            for index in range(waiting):
                ticket = SupportTicket(
                    id=f"tkt_q{index}",
                    customer_id=f"cust_{2000 + index % 200}",
                    status=TicketStatus.ESCALATED,
                    primary_intent=QUEUE_INTENTS[index % len(QUEUE_INTENTS)],
                    escalated_at=now - timedelta(seconds=index),
                    handoff_summary={"entities": {"order_ids": [f"ORD-{20000 + index % 600}"]}},
                )
                session.add(ticket)
                record_queue_inputs(session, scratch.backend, ticket)
        handoff = partial(
            estimate_for_handoff,
            scratch,
            ticket_id="tkt_new",
            customer_id="cust_456",
            intent="refund",
            negative_sentiment=0.4,
            order_ids=["ORD-789"],
            rule_id=None,
        )
        handoff()
        samples = [_timed(handoff) for _ in range(20)]
        listing = [_timed(partial(snapshot, scratch)) for _ in range(5)]
        engine.dispose()
    return {
        "queue": {
            "waiting": waiting,
            "handoff_estimate": _summary(samples),
            "full_snapshot": _summary(listing),
        }
    }
