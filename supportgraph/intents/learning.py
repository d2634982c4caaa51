"""The learning loop: human corrections become training data for a candidate model.

The candidate is promoted only when it is not worse than the serving model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from supportgraph.db.engine import session_scope
from supportgraph.db.models import ResolutionFeedback
from supportgraph.intents import registry
from supportgraph.intents.classifier import IntentClassifier
from supportgraph.intents.model import (
    HOLDOUT_FILE,
    MULTI_FILE,
    TRAIN_FILE,
    LabelledText,
    read_labelled_csv,
)
from supportgraph.intents.taxonomy import load_taxonomy
from supportgraph.intents.training import fit_rows
from supportgraph.services import Services

HOLDBACK_SHARE = 0.25


@dataclass
class LearnReport:
    """What a learning run did and why."""

    candidate: str
    serving_before: str | None
    promoted: bool
    status: str
    n_feedback_train: int
    n_feedback_holdback: int
    metrics: dict[str, Any] = field(default_factory=dict)


def in_holdback(feedback_id: str, share: float = HOLDBACK_SHARE) -> bool:
    """A stable split: the same feedback row is always held back, or always trained on."""
    bucket = int(hashlib.sha256(feedback_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < share


def feedback_rows(services: Services) -> tuple[list[LabelledText], list[LabelledText], list[str]]:
    """Corrections with their message text: (to train on, held back, ids used)."""
    with Session(services.engine) as session:
        rows = session.exec(
            select(ResolutionFeedback).where(col(ResolutionFeedback.message_text).is_not(None))
        ).all()
    train: list[LabelledText] = []
    holdback: list[LabelledText] = []
    for row in rows:
        labelled = LabelledText(str(row.message_text), (row.correct_intent,))
        (holdback if in_holdback(row.id) else train).append(labelled)
    return train, holdback, [row.id for row in rows]


def accuracy(classifier: IntentClassifier, rows: list[LabelledText]) -> float:
    """Share of rows whose top intent is right, through the full cascade."""
    if not rows:
        return 1.0
    hits = sum(classifier.predict_text(row.text)[0].intent == row.intents[0] for row in rows)
    return round(hits / len(rows), 4)


def learn(services: Services, *, ab_test: bool = False) -> LearnReport:
    """Train a candidate on the project data plus feedback; promote it if it is not worse.

    With ``ab_test`` a candidate that is not worse is served to the configured share of
    customers instead of replacing the serving model at once.
    """
    train_feedback, holdback, used = feedback_rows(services)
    serving = services.classifier
    candidate_model = fit_rows(
        services.embedder,
        read_labelled_csv(TRAIN_FILE) + train_feedback,
        holdout=read_labelled_csv(HOLDOUT_FILE),
        multi=read_labelled_csv(MULTI_FILE),
    )
    candidate = IntentClassifier(load_taxonomy(), candidate_model, embedder=services.embedder)
    eval_rows = read_labelled_csv(HOLDOUT_FILE)
    metrics = {
        "eval_accuracy_serving": accuracy(serving, eval_rows),
        "eval_accuracy_candidate": accuracy(candidate, eval_rows),
        "feedback_accuracy_serving": accuracy(serving, holdback),
        "feedback_accuracy_candidate": accuracy(candidate, holdback),
    }
    not_worse = (
        metrics["eval_accuracy_candidate"] >= metrics["eval_accuracy_serving"]
        and metrics["feedback_accuracy_candidate"] >= metrics["feedback_accuracy_serving"]
    )
    status = (
        (registry.CANDIDATE if ab_test else registry.SERVING) if not_worse else registry.REJECTED
    )
    before = serving.model.version if serving.model else None
    registry.save_version(
        services.engine,
        candidate_model,
        services.settings.resolved_intent_model_dir,
        status=status,
        parent=before,
        metrics=metrics,
        n_feedback=len(train_feedback),
    )
    if not_worse:
        _mark_used(services, used)
        services.reload_classifiers()
    return LearnReport(
        candidate=candidate_model.version,
        serving_before=before,
        promoted=status == registry.SERVING,
        status=status,
        n_feedback_train=len(train_feedback),
        n_feedback_holdback=len(holdback),
        metrics=metrics,
    )


def _mark_used(services: Services, ids: list[str]) -> None:
    with session_scope(services.engine) as session:
        for row in session.exec(
            select(ResolutionFeedback).where(col(ResolutionFeedback.id).in_(ids))
        ).all():
            row.used_for_training = True
            session.add(row)
