"""The learning loop: human corrections make the model right where it was wrong."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from supportgraph import services as services_module
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ResolutionFeedback, SupportTicket
from supportgraph.intents import registry
from supportgraph.intents.learning import in_holdback, learn
from supportgraph.intents.model import HOLDOUT_FILE, IntentModel, read_labelled_csv
from supportgraph.knowledge.embedder import Embedder
from supportgraph.services import Services, ab_bucket

# British slang for a parcel that never came: the project's data says "complaint".
CORRECTIONS = [
    "the courier ghosted me",
    "my parcel went walkabout",
    "the box never showed up on my porch",
    "stuff never turned up mate",
    "been sat waiting forever for the delivery van",
    "nothing has landed on my doorstep yet",
    "my package has gone awol",
    "the delivery bloke never came round",
    "still no sign of the parcel on the mat",
    "the van never rocked up with my things",
    "my order has vanished into thin air",
    "the postie hasn't brought my stuff",
    "parcel seems to have done a runner",
    "no knock at the door, no box, nothing",
    "my goods never materialised",
    "the shipment never made it to my flat",
]


def add_corrections(services: Services) -> None:
    with session_scope(services.engine) as session:
        session.add(SupportTicket(id="tkt_learning", customer_id="cust_456"))
        session.flush()
        for text in CORRECTIONS:
            session.add(
                ResolutionFeedback(
                    ticket_id="tkt_learning",
                    message_text=text,
                    predicted_intent="complaint",
                    correct_intent="order_status",
                    correction_type="intent",
                )
            )


def test_corrections_are_learned_without_regression(services: Services) -> None:
    before = services.classifier
    wrong_before = [t for t in CORRECTIONS if before.predict_text(t)[0].intent != "order_status"]
    assert len(wrong_before) >= 10, "the corrections must be phrasings the model gets wrong"
    add_corrections(services)

    report = learn(services)

    assert report.promoted and report.status == registry.SERVING
    assert report.serving_before == before.model.version
    assert report.metrics["eval_accuracy_candidate"] >= report.metrics["eval_accuracy_serving"]
    assert report.n_feedback_train + report.n_feedback_holdback == len(CORRECTIONS)
    after = services.classifier
    assert after.model.version == report.candidate != before.model.version
    assert registry.current(services.engine, registry.SERVING).version == report.candidate
    with session_scope(services.engine) as session:
        rows = session.query(ResolutionFeedback).all()
        assert all(row.used_for_training for row in rows)
    trained = [row.message_text for row in rows if not in_holdback(row.id)]
    still_wrong = [t for t in trained if after.predict_text(t)[0].intent != "order_status"]
    assert len(still_wrong) <= len(trained) // 8, still_wrong


def test_a_worse_candidate_is_rejected(services: Services) -> None:
    # Mislabelled copies of the eval set's order-status rows: learning them must hurt the eval.
    wrong = [
        row.text for row in read_labelled_csv(HOLDOUT_FILE) if row.intents[0] == "order_status"
    ]
    with session_scope(services.engine) as session:
        session.add(SupportTicket(id="tkt_bad", customer_id="cust_456"))
        session.flush()
        for text in wrong * 3:
            session.add(
                ResolutionFeedback(
                    ticket_id="tkt_bad",
                    message_text=text,
                    correct_intent="cancel_order",
                    correction_type="intent",
                )
            )
    serving = services.classifier.model.version
    report = learn(services)
    assert report.metrics["eval_accuracy_candidate"] < report.metrics["eval_accuracy_serving"]
    assert not report.promoted
    assert report.status == registry.REJECTED
    assert services.classifier.model.version == serving
    assert registry.current(services.engine, registry.SERVING).version == serving


def test_ab_split_is_stable_per_customer(services: Services) -> None:
    add_corrections(services)
    report = learn(services, ab_test=True)
    assert report.status == registry.CANDIDATE
    serving = services.classifier.model.version
    assert services.candidate_classifier.model.version == report.candidate != serving
    customers = [f"cust_{i}" for i in range(400)]
    for share in (0.0, 0.3, 1.0):
        services.settings.ab_candidate_share = share
        variants = {c: services.classifier_for(c)[1] for c in customers}
        assert variants == {c: services.classifier_for(c)[1] for c in customers}
        on_candidate = sum(v == "candidate" for v in variants.values()) / len(customers)
        assert on_candidate == pytest.approx(share, abs=0.08)
        for customer, variant in variants.items():
            assert (variant == "candidate") == (ab_bucket(customer) < share)


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_server_follows_what_learning_in_another_process_promoted(
    services_factory: Callable[..., Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = services_factory(ab_candidate_share=0.5)
    before = server.classifier.model.version
    assert server.candidate_classifier is None
    learner = services_factory()  # `supportgraph learn`, run beside the server
    add_corrections(learner)
    trial = learn(learner, ab_test=True)
    assert trial.status == registry.CANDIDATE
    server.classifier_for("cust_456")  # read the registry at most every MODEL_CHECK_S
    assert server.candidate_classifier is None
    monkeypatch.setattr(services_module, "MODEL_CHECK_S", 0.0)
    server.classifier_for("cust_456")
    assert wait_for(lambda: server.candidate_classifier is not None)
    assert server.candidate_classifier.model.version == trial.candidate  # type: ignore[union-attr]
    assert server.classifier.model.version == before

    promoted = learn(learner)  # the same corrections, now replacing the serving model
    assert promoted.promoted

    def serving_version() -> str:
        served, variant = server.classifier_for("cust_1")  # also what triggers the check
        return served.model.version if variant == "serving" and served.model else ""

    assert wait_for(lambda: serving_version() == promoted.candidate)
    right = [
        t for t in CORRECTIONS if server.classifier.predict_text(t)[0].intent == "order_status"
    ]
    assert len(right) >= len(CORRECTIONS) * 3 // 4


def test_a_tuned_encoder_is_loaded_before_its_model_serves(services: Services) -> None:
    served = services.classifier.model
    assert served is not None
    embedded: list[list[str]] = []

    class TunedEncoder(Embedder):
        def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
            embedded.append(list(texts))
            return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)

    tuned = IntentModel(served.classifier, served.meta, served.sub_classifier, served.centroids)
    tuned.encoder = TunedEncoder()
    services._ready_cascade(tuned)
    assert embedded == [["warm up"]]  # loaded in the registry thread, not by the first turn
