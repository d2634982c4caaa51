"""Benchmarks for the figures the product promises: tier latencies and a turn end to end."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from supportgraph.intents.metrics import percentile
from supportgraph.intents.model import HOLDOUT_FILE, read_labelled_csv
from supportgraph.intents.rules import match_rules
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
    tier = [_timed(partial(classifier.predict_text, text)) for text in texts]
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
    with open_support_service(services) as support:
        support.handle_message(ticket_id=None, customer_id="cust_456", message="warm up")
        for index, text in enumerate(texts):
            started = time.perf_counter()
            support.handle_message(
                ticket_id=None, customer_id=f"cust_{2000 + index % 200}", message=text
            )
            samples.append((time.perf_counter() - started) * 1000)
    return {"turn": _summary(samples)}
