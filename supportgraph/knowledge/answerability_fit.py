"""Fitting the answerability model on labelled questions, with retrieval run as in serving.

Rows of the labelled file carry ``answerable`` and, for answerable ones, the ``gold_chunks``
that answer them. A row is a positive when it is answerable and retrieval's best passage is
one of its gold chunks, a negative when it is unanswerable; an answerable question whose best
passage is another one says nothing about answerability and is left out of the fit.

The rows are split by id into a fitting part and a held-apart check part, so the figures
reported for the check part were never seen by the fit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from supportgraph.knowledge.answerability import (
    FEATURES,
    Answerability,
    Candidate,
    Embed,
)
from supportgraph.services import Services

CHECK_SHARE = 0.3
FOLDS = 5


@dataclass(frozen=True)
class LabelledQuestion:
    """A question and what retrieval found for it."""

    id: str
    question: str
    answerable: bool
    top_is_gold: bool
    candidates: list[Candidate]

    @property
    def label(self) -> int | None:
        """1: the best passage answers it; 0: nothing does; None: retrieval missed."""
        if not self.answerable:
            return 0
        return 1 if self.top_is_gold else None


def in_check_part(row_id: str) -> bool:
    """Whether a row is held apart from fitting (stable across runs and machines)."""
    digest = hashlib.sha256(row_id.encode()).digest()
    return digest[0] / 256 < CHECK_SHARE


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The labelled rows of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def retrieve(services: Services, rows: list[dict[str, Any]]) -> list[LabelledQuestion]:
    """Run serving's retrieval for each row."""
    texts = [services.model_text(row["question"]) for row in rows]
    vectors = services.embedder.embed(texts)
    found = []
    for row, text, vector in zip(rows, texts, vectors, strict=True):
        hits = services.knowledge.search(vector, query=text, k=5)
        candidates = [(h.id, h.title, h.text, h.score) for h in hits]
        found.append(
            LabelledQuestion(
                id=row["id"],
                question=text,
                answerable=bool(row["answerable"]),
                top_is_gold=bool(candidates) and candidates[0][0] in row.get("gold_chunks", []),
                candidates=candidates,
            )
        )
    return found


def feature_matrix(model: Answerability, rows: list[LabelledQuestion], embed: Embed) -> np.ndarray:
    """The features of each row (rows without candidates are all zeros)."""
    matrix = np.zeros((len(rows), len(FEATURES)))
    for index, row in enumerate(rows):
        if row.candidates:
            values = model.features(row.question, row.candidates, embed)
            matrix[index] = [values[name] for name in FEATURES]
    return matrix


def threshold_for(probabilities: np.ndarray, labels: np.ndarray, abstain: float) -> float:
    """The lowest threshold under which at least ``abstain`` of the negatives fall."""
    negatives = np.sort(probabilities[labels == 0])
    if not len(negatives):
        return 0.5
    index = min(len(negatives) - 1, int(np.ceil(abstain * len(negatives))) - 1)
    return float(np.nextafter(negatives[index], 1.0))


def fit(
    services: Services, path: Path, *, abstain: float = 0.92
) -> tuple[Answerability, dict[str, Any]]:
    """Fit on the fitting part; report both parts at the chosen operating point."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    blank = Answerability.untrained(services.knowledge.all_texts())
    rows = retrieve(services, load_rows(path))
    fitting = [row for row in rows if not in_check_part(row.id) and row.label is not None]
    embed = services.embedder.embed
    features = feature_matrix(blank, fitting, embed)
    labels = np.array([row.label for row in fitting])
    means, scales = features.mean(axis=0), features.std(axis=0) + 1e-9
    standardized = (features - means) / scales
    learner = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    held_out = cross_val_predict(learner, standardized, labels, cv=folds, method="predict_proba")
    threshold = threshold_for(held_out[:, 1], labels, abstain)
    learner.fit(standardized, labels)
    model = Answerability(
        weights={n: float(w) for n, w in zip(FEATURES, learner.coef_[0], strict=True)},
        bias=float(learner.intercept_[0]),
        means={n: float(m) for n, m in zip(FEATURES, means, strict=True)},
        scales={n: float(s) for n, s in zip(FEATURES, scales, strict=True)},
        threshold=threshold,
        idf=blank.idf,
        unseen_idf=blank.unseen_idf,
    )
    report = {
        "data": str(path),
        "target_abstention_on_unanswerable": abstain,
        "fitting_rows": len(fitting),
        "cross_validated_fitting": figures(labels, held_out[:, 1], threshold),
        "check": figures_of(model, [row for row in rows if in_check_part(row.id)], embed),
        "all": figures_of(model, rows, embed),
    }
    return replace(model, fitted_on=report), report


def figures(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, Any]:
    """Abstention on each side at a threshold."""
    answered = probabilities >= threshold
    negatives, positives = labels == 0, labels == 1
    return {
        "unanswerable": int(negatives.sum()),
        "answerable": int(positives.sum()),
        "abstained_when_unanswerable": round(float((~answered[negatives]).mean()), 4)
        if negatives.any()
        else None,
        "abstained_when_answerable": round(float((~answered[positives]).mean()), 4)
        if positives.any()
        else None,
    }


def figures_of(model: Answerability, rows: list[LabelledQuestion], embed: Embed) -> dict[str, Any]:
    """The model's abstention on rows; answerable rows count whatever retrieval found."""
    matrix = feature_matrix(model, rows, embed)
    probabilities = np.array(
        [
            model.probability(dict(zip(FEATURES, vector, strict=True))) if row.candidates else 0.0
            for row, vector in zip(rows, matrix, strict=True)
        ]
    )
    labels = np.array([1 if row.answerable else 0 for row in rows])
    return figures(labels, probabilities, model.threshold)
