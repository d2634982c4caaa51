"""Several requests in one message: each found in its own clause, with its own confidence."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from testkit import Prepared, send

from supportgraph.intents.classifier import IntentClassifier, embed_message
from supportgraph.intents.clauses import split_clauses
from supportgraph.intents.model import fit_multi_intent_thresholds
from supportgraph.knowledge.embedder import Embedder


@pytest.fixture(scope="module")
def classifier(prepared: Prepared) -> IntentClassifier:
    return prepared.services.classifier


@pytest.mark.parametrize(
    ("text", "clauses", "intents"),
    [
        (
            "cancel ORD-1501, send me a password reset link, and what are your support hours?",
            ["cancel ORD-1501", "send me a password reset link", "what are your support hours?"],
            {"cancel_order", "password_reset", "faq"},
        ),
        (
            "1) where is ORD-1101 2) I forgot my password 3) do you ship to Canada?",
            ["1) where is ORD-1101", "2) I forgot my password", "3) do you ship to Canada?"],
            {"order_status", "password_reset", "faq"},
        ),
        (
            "I need to update my email, also where is my refund for the yoga mat, plus can I "
            "talk to a person",
            [
                "I need to update my email",
                "where is my refund for the yoga mat",
                "can I talk to a person",
            ],
            {"account_update", "refund", "human_agent"},
        ),
    ],
)
def test_three_requests_give_three_intents_each_with_its_clause(
    classifier: IntentClassifier,
    embedder: Embedder,
    text: str,
    clauses: list[str],
    intents: set[str],
) -> None:
    assert split_clauses(text) == clauses
    vector, clause_vectors = embed_message(embedder, text)
    assert clause_vectors is not None and clause_vectors.shape == (3, 384)
    found = classifier.classify(text, vector, clause_vectors)
    by_intent = {p.intent: p for p in found}
    assert intents <= set(by_intent)
    # each request names the clause that asked for it, and the confidence read there
    assert sorted(str(by_intent[name].evidence) for name in intents) == sorted(clauses)
    assert all(0.0 < by_intent[name].confidence <= 1.0 for name in intents)
    # anything else is a runner-up of the whole message (no clause of its own)
    assert all(p.evidence is None for p in found if p.intent not in intents)
    # the same intents whether the clauses were embedded with the message or by the classifier
    assert [(p.intent, p.evidence) for p in classifier.classify(text, vector)] == [
        (p.intent, p.evidence) for p in found
    ]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("my shoes and socks haven't arrived", "order_status"),
        ("Where are my yoga mat and water bottle?", "order_status"),
        ("Please update my email and phone number on file", "account_update"),
        ("Can I get a refund for the headphones and the charging case?", "refund"),
    ],
)
def test_things_joined_by_and_in_one_request_stay_one_request(
    classifier: IntentClassifier, embedder: Embedder, text: str, intent: str
) -> None:
    assert split_clauses(text) == [text]
    vector, clause_vectors = embed_message(embedder, text)
    assert clause_vectors is None  # one clause: the turn embeds the message alone
    found = classifier.classify(text, vector)
    assert found[0].intent == intent
    # nothing is read from a part of the message: no clause adds a request
    assert {p.evidence or text for p in found} == {text}


def test_my_shoes_and_socks_stay_one_intent(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    text = "my shoes and socks haven't arrived"
    found = classifier.classify(text, embedder.embed_one(text))
    assert classifier.model is not None
    # any other intent is a runner-up of the whole message below the fitted clause threshold,
    # never a second request split out of the message
    clause_threshold = classifier.model.meta.clause_threshold
    assert clause_threshold is not None
    assert [p.intent for p in found if p.confidence >= clause_threshold] == ["order_status"]


def test_the_clause_threshold_is_fitted_after_the_whole_message_reading(
    classifier: IntentClassifier, embedder: Embedder
) -> None:
    """Clauses only add to the whole message's reading; one-clause messages decide the rest."""
    model = classifier.model
    assert model is not None
    rows = [
        ("Where is my order? Also I forgot my password", ("order_status", "password_reset")),
        (
            "cancel ORD-1, reset my password, and do you ship to Canada?",
            ("cancel_order", "password_reset", "faq"),
        ),
        ("where is my order?", ("order_status",)),
        ("do you ship to Canada?", ("faq",)),
    ]
    whole = embedder.embed([text for text, _ in rows])
    clause_vectors = [
        embedder.embed(parts) if len(parts := split_clauses(text)) > 1 else np.zeros((0, 384))
        for text, _ in rows
    ]
    secondary, clause = fit_multi_intent_thresholds(
        model, whole, clause_vectors, [intents for _, intents in rows]
    )
    alone, _ = fit_multi_intent_thresholds(
        model, whole, [np.zeros((0, 384))] * len(rows), [intents for _, intents in rows]
    )
    assert secondary == alone
    assert clause is not None and 0.3 <= clause <= 0.95


def test_the_eval_counts_further_requests_found_and_extras_invented() -> None:
    from evals.runner import multi_intent_metrics
    from evals.scenarios import Scenario

    def result(suite: str, expected: list[str], found: list[str]) -> dict[str, object]:
        scenario = Scenario(id="s", customer_id="c", turns=[], suite=suite)
        return {
            "scenario": scenario,
            "turns": [{"expect": {"intents": expected}, "intents": found}],
        }

    results = [
        result("multi_intent", ["cancel_order", "password_reset", "faq"], ["cancel_order", "faq"]),
        result("multi_intent", ["order_status", "refund"], ["refund", "order_status"]),
        result("multi_intent", ["order_status"], ["order_status", "complaint"]),
        result("multi_intent", ["faq"], ["faq"]),
        result("core", ["billing", "faq"], ["billing"]),  # other suites are not read
    ]
    assert multi_intent_metrics(results) == {
        "multi_intent_later_recall": round(2 / 3, 4),
        "multi_intent_all_found": 0.5,
        "multi_intent_extra_intents": 0,
        "multi_intent_false_extra_rate": 0.5,
    }


def test_the_api_gives_each_intent_its_clause_and_confidence(client: TestClient) -> None:
    body = send(client, "1) where is ORD-789 2) I forgot my password 3) do you ship to Canada?")
    by_intent = {view["intent"]: view for view in body["intents"]}
    assert by_intent["order_status"]["clause"] == "1) where is ORD-789"
    assert by_intent["password_reset"]["clause"] == "2) I forgot my password"
    assert by_intent["faq"]["clause"] == "3) do you ship to Canada?"
    assert all(0.0 < view["confidence"] <= 1.0 for view in body["intents"])
    assert body["intent"].startswith("multi_intent:")
