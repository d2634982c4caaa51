"""Fitting the must-escalate situation probes (``policies/situation_model.py``) from examples.

A probe reads the turn's embedding and the TF-IDF of the text's character n-grams, scaled by
``GRAM_WEIGHT``: the n-grams keep wording that the sentence embedding blurs. Positives are
must-escalate messages labelled with their situation (``must_fit.jsonl``), each also in a
lower-cased, unpunctuated copy so that the probe does not learn the fit file's
written style. Negatives are turns that should not go to a person: the calibration file's
non-escalating turns and the intent training rows whose labels are not themselves one of
the situations. Each situation's threshold is the one that flags at most ``max_false_rate``
of the negatives, measured on cross-validated scores (a probe scores its own training rows
too confidently).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from policies.situation_model import GRAM_RANGE, CharGrams, SituationModel, SituationProbe
from supportgraph.db.models import utcnow

REGULARIZATION_C = 4.0
FOLDS = 5
SEED = 0
# The n-grams' TF-IDF (unit length, like the embedding) is multiplied by this before the fit.
# Chosen by the positives of the fit rows caught in cross-validation at the 1% threshold
# (357 with their casual copies): the embedding alone 342, with n-grams at 0.5 347, 1.0 351,
# 1.5 351, 2.0 353, 3.0 343 (docs/DESIGN.md, Escalation).
GRAM_WEIGHT = 2.0
GRAM_MIN_DOCUMENTS = 2
# Intent labels that name a must-escalate situation (or its closest neighbour, whose rows do
# not say whether the product was dangerous or the parcel lost): never negatives.
SITUATION_LABELS = frozenset(
    {
        "billing:dispute",
        "billing:double_charge",
        "billing:unrecognized_charge",
        "password_reset:account_recovery",
        "complaint:legal_threat",
        "complaint:product",
        "complaint:delivery",
    }
)
# A bare intent in the multi-intent file may stand for any of its sub-intents.
SITUATION_INTENTS = frozenset(label.split(":")[0] for label in SITUATION_LABELS)


@dataclass(frozen=True)
class Example:
    """A text to fit on: its situation (None for a negative) and the group its copies share."""

    text: str
    situation: str | None
    group: int


def gram_vectorizer(**options: Any) -> TfidfVectorizer:
    """The character n-gram TF-IDF the probes read besides the embedding.

    Serving computes the same features without scikit-learn (``situation_model.char_grams``).
    """
    return TfidfVectorizer(analyzer="char_wb", ngram_range=GRAM_RANGE, sublinear_tf=True, **options)


def casual_copy(text: str) -> str:
    """The text lower-cased without punctuation, as many customers type."""
    return re.sub(r"[^\w\s']", "", text).lower().strip()


def intent_negatives(paths: Sequence[Path]) -> list[str]:
    """Intent training texts whose labels are not a must-escalate situation.

    Reads ``text,intent,sub_intent`` and ``text,intents`` (``a|b``) files.
    """
    texts: list[str] = []
    for path in paths:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if "intents" in row:
                    labels = row["intents"].split("|")
                    if any(label in SITUATION_INTENTS for label in labels):
                        continue
                else:
                    label = row["intent"] + (f":{row['sub_intent']}" if row["sub_intent"] else "")
                    if label in SITUATION_LABELS:
                        continue
                texts.append(row["text"])
    return texts


def examples(positives: Sequence[tuple[str, str]], negatives: Sequence[str]) -> list[Example]:
    """Positives (situation, text) with their casual copies, then the negatives."""
    rows: list[Example] = []
    for group, (situation, text) in enumerate(positives):
        rows.append(Example(text, situation, group))
        copy = casual_copy(text)
        if copy != text:
            rows.append(Example(copy, situation, group))
    offset = len(positives)
    rows.extend(Example(text, None, offset + i) for i, text in enumerate(negatives))
    return rows


def fit_situations(
    rows: Sequence[Example],
    vectors: np.ndarray,
    *,
    embedding_model: str,
    max_false_rate: float = 0.01,
    texts: Sequence[str] | None = None,
) -> SituationModel:
    """One logistic probe per situation against the negatives, thresholded on held-out folds.

    ``texts`` are what the vectors were embedded from (the rows' texts by default), for the
    n-grams. Every probe is fitted on the same negatives; another situation's positives are
    left out of a probe's fit (a disputed charge after a takeover is both). The threshold is
    the ``1 - max_false_rate`` quantile of the negatives' cross-validated probabilities; the
    positives' cross-validated recall at it is reported.
    """
    texts = [row.text for row in rows] if texts is None else list(texts)
    vectorizer = gram_vectorizer(min_df=GRAM_MIN_DOCUMENTS).fit(texts)
    features = hstack(
        [csr_matrix(vectors), vectorizer.transform(texts) * GRAM_WEIGHT], format="csr"
    )
    width = vectors.shape[1]
    groups = np.array([row.group for row in rows])
    labels = np.array([row.situation or "" for row in rows])
    negative = labels == ""
    situations = sorted(set(labels[~negative].tolist()))
    probes: dict[str, SituationProbe] = {}
    metrics: dict[str, dict[str, float | int]] = {}
    for situation in situations:
        used = negative | (labels == situation)
        x, y, group = features[used], (labels[used] == situation).astype(int), groups[used]
        held_out = _cross_validated(x, y, group)
        threshold = float(np.quantile(held_out[y == 0], 1.0 - max_false_rate))
        model = _probe().fit(x, y)
        probes[situation] = SituationProbe(
            weights=[round(float(w), 5) for w in model.coef_[0][:width]],
            bias=round(float(model.intercept_[0]), 5),
            threshold=round(threshold, 5),
            # the scale folded in: serving multiplies the plain TF-IDF by these
            gram_weights=[round(float(w) * GRAM_WEIGHT, 5) for w in model.coef_[0][width:]],
        )
        metrics[situation] = {
            "positives": int(y.sum()),
            "negatives": int((y == 0).sum()),
            "cv_recall": round(float((held_out[y == 1] >= threshold).mean()), 4),
            "cv_false_rate": round(float((held_out[y == 0] >= threshold).mean()), 4),
        }
    return SituationModel(
        probes=probes,
        embedding_model=embedding_model,
        source=f"fitted:{utcnow():%Y-%m-%dT%H:%M:%SZ}",
        metrics={
            "max_false_rate": max_false_rate,
            "regularization_c": REGULARIZATION_C,
            "gram_weight": GRAM_WEIGHT,
            "situations": metrics,
        },
        grams=CharGrams(
            vocabulary=vectorizer.get_feature_names_out().tolist(),
            idf=[round(float(value), 6) for value in vectorizer.idf_],
        ),
    )


def _probe() -> LogisticRegression:
    return LogisticRegression(C=REGULARIZATION_C, class_weight="balanced", max_iter=5000)


def _cross_validated(x: Any, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's probability from a probe that never saw it nor its casual copy."""
    unique, first = np.unique(groups, return_index=True)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    scores = np.zeros(len(y))
    for train, _ in folds.split(unique, y[first]):
        inside = np.isin(groups, unique[train])
        model = _probe().fit(x[inside], y[inside])
        scores[~inside] = model.predict_proba(x[~inside])[:, 1]
    return scores
