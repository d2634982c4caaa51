"""Training intent models from labelled rows (the project's files, feedback, any CSV)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from supportgraph.intents.clauses import split_clauses
from supportgraph.intents.model import (
    HOLDOUT_FILE,
    MULTI_FILE,
    TRAIN_FILE,
    IntentModel,
    LabelledText,
    fit_intent_model,
    fit_multi_intent_thresholds,
    read_labelled_csv,
)
from supportgraph.intents.taxonomy import UNKNOWN
from supportgraph.knowledge.embedder import Embedder


def fit_rows(
    embedder: Embedder,
    train: Sequence[LabelledText],
    *,
    holdout: Sequence[LabelledText] = (),
    multi: Sequence[LabelledText] = (),
) -> IntentModel:
    """Embed labelled rows and fit the model, its sub-intent model and its thresholds."""
    vectors = embedder.embed([row.text for row in train])
    held_vectors = embedder.embed([row.text for row in holdout])
    model = fit_intent_model(
        vectors,
        [row.intents[0] for row in train],
        sub_labels=[row.sub_intent for row in train],
        holdout=(held_vectors, [row.intents[0] for row in holdout]) if holdout else None,
    )
    if multi:
        # Multi-intent rows teach when to add an intent; single-intent ones when not to.
        single = [i for i, row in enumerate(holdout) if row.intents[0] != UNKNOWN]
        rows = [*multi, *(holdout[i] for i in single)]
        whole = np.vstack([embedder.embed([row.text for row in multi]), held_vectors[single]])
        meta = model.meta
        meta.secondary_threshold, meta.clause_threshold = fit_multi_intent_thresholds(
            model, whole, _clause_vectors(embedder, rows), [row.intents for row in rows]
        )
    return model


def _clause_vectors(embedder: Embedder, rows: Sequence[LabelledText]) -> list[np.ndarray]:
    """Each row's clause vectors (none for a one-clause row), embedded in one batch."""
    clauses = [split_clauses(row.text) for row in rows]
    several = [parts if len(parts) > 1 else [] for parts in clauses]
    flat = embedder.embed([part for parts in several for part in parts])
    bounds = np.cumsum([0, *(len(parts) for parts in several)])
    return [flat[start:end] for start, end in itertools.pairwise(bounds)]


def train_default_model(embedder: Embedder) -> IntentModel:
    """The agent's default model, from the project's own data."""
    return fit_rows(
        embedder,
        read_labelled_csv(TRAIN_FILE),
        holdout=read_labelled_csv(HOLDOUT_FILE),
        multi=read_labelled_csv(MULTI_FILE),
    )
