"""Must-escalate situations recognised by meaning: the probes, the gate's rule, the refit."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from testkit import send

from evals.escalation_eval import situation_fit_rows
from policies.queue import QueueItem, load_queue_config, priority
from policies.situation_model import CALIBRATED_SITUATIONS_FILE, load_situation_model
from supportgraph.services import Services
from supportgraph.situation_fit import fit_situations, gram_vectorizer


def _scores(services: Services, text: str) -> dict[str, float]:
    model = services.situation_model
    assert model is not None
    text = services.model_text(text)
    return model.scores(services.embedder.embed_one(text), text)


@pytest.mark.parametrize(
    "message",
    [
        # none of the fit file's words for it: no fire, smoke, spark, melt, burn or shock
        "grandpa's new electric blanket was glowing red at one corner when we checked on him",
        "the adaptor popped loudly, the room smells of scorched rubber and the lights tripped",
        "the toaster's cord frayed and it gave off a flash and a bang when I plugged it in",
    ],
)
def test_a_hazard_worded_unlike_the_fit_examples_is_recognised(
    services: Services, message: str
) -> None:
    model = services.situation_model
    assert model is not None
    found = model.detected(_scores(services, message))
    assert found is not None and found[0] == "safety_hazard", _scores(services, message)


TOPIC_NOT_SEVERITY = pytest.mark.xfail(
    strict=True,
    reason="known weakness: a linear probe on the sentence embedding and the words' n-grams "
    "reads the topic, so a calm question about heat, a kettle boiling dry, who signed in or a "
    "neighbour still scores as the situation (docs/DESIGN.md, Escalation)",
)


@pytest.mark.parametrize(
    ("message", "situation"),
    [
        ("the laptop fan gets loud when I play games, is that normal?", "safety_hazard"),
        ("my headphones feel a bit hot on my ears after a long call, is that ok?", "safety_hazard"),
        ("how do I change the email address on my account?", "account_takeover"),
        ("what time does the driver usually come round?", "misdelivery"),
        pytest.param(
            "does the kettle switch itself off when it boils dry?",
            "safety_hazard",
            marks=TOPIC_NOT_SEVERITY,
        ),
        pytest.param(
            "can I see who signed in to my account last?",
            "account_takeover",
            marks=TOPIC_NOT_SEVERITY,
        ),
        pytest.param(
            "the charger gets a little warm after an hour, is that normal?",
            "safety_hazard",
            marks=TOPIC_NOT_SEVERITY,
        ),
        pytest.param(
            "can my parcel be left with a neighbour if I'm out?",
            "misdelivery",
            marks=TOPIC_NOT_SEVERITY,
        ),
    ],
)
def test_a_benign_near_miss_is_not_a_situation(
    services: Services, message: str, situation: str
) -> None:
    model = services.situation_model
    assert model is not None
    scores = _scores(services, message)
    assert scores[situation] < model.probes[situation].threshold, scores


def test_the_gate_hands_a_hazard_over_with_priority_and_records_its_score(
    client: TestClient,
) -> None:
    reply = send(
        client,
        "my daughter's night light went pop and now there's a black mark up the wall",
        customer_id="cust_101",
    )
    assert reply["escalated"] is True
    ticket = client.get(f"/v1/support/tickets/{reply['ticket_id']}").json()
    decision = ticket["escalation_decisions"][-1]
    assert decision["rule_id"] == "escalate.situation.safety_hazard"
    model = load_situation_model()
    hazard = decision["signals"]["situation_safety_hazard"]["value"]
    assert hazard >= model.probes["safety_hazard"].threshold
    assert decision["signals"]["situation_safety_hazard"]["contribution"] == 0.0
    assert {f"situation_{name}" for name in model.probes} <= set(decision["signals"])
    config = load_queue_config()
    calm = priority(QueueItem("t1", 0.0, 0.0), config)
    urgent = priority(QueueItem("t2", 0.0, 0.0, rule_id=decision["rule_id"]), config)
    assert urgent.score > calm.score


def test_refitting_on_the_fit_files_reproduces_the_stored_probes(services: Services) -> None:
    rows = situation_fit_rows()
    texts = [services.model_text(row.text) for row in rows]
    stored = load_situation_model(CALIBRATED_SITUATIONS_FILE)
    refit = fit_situations(
        rows,
        services.embedder.embed(texts),
        embedding_model=stored.embedding_model,
        max_false_rate=stored.metrics["max_false_rate"],
        texts=texts,
    )
    assert set(refit.probes) == set(stored.probes)
    for name, probe in stored.probes.items():
        assert refit.probes[name].threshold == pytest.approx(probe.threshold, abs=2e-3)
        assert refit.probes[name].bias == pytest.approx(probe.bias, abs=2e-2)
    assert refit.metrics["situations"] == stored.metrics["situations"]


def test_the_served_n_grams_are_the_fits() -> None:
    """Serving reads the n-grams without scikit-learn: the same TF-IDF as the fit's vectorizer."""
    grams = load_situation_model().grams
    assert grams is not None
    vectorizer = gram_vectorizer(vocabulary={gram: i for i, gram in enumerate(grams.vocabulary)})
    vectorizer.idf_ = np.asarray(grams.idf)
    texts = [row.text for row in situation_fit_rows()[::7]]
    texts += ["a", "I  am\tok", "Ça va?   x", "", "   ", "wasn't me!!", "ORD-789 at number 42"]
    for text in texts:
        expected = vectorizer.transform([text]).toarray()[0]
        columns, values = grams.features(text)
        served = np.zeros_like(expected)
        served[columns] = values
        assert np.allclose(served, expected, atol=1e-12), text
