"""Training intent models from labelled rows (the project's files, feedback, any CSV)."""

from __future__ import annotations

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
    held = (
        (embedder.embed([row.text for row in holdout]), [row.intents[0] for row in holdout])
        if holdout
        else None
    )
    model = fit_intent_model(
        vectors,
        [row.intents[0] for row in train],
        sub_labels=[row.sub_intent for row in train],
        holdout=held,
    )
    if multi:
        # Multi-intent rows teach when to add an intent; single-intent ones when not to.
        rows = [*multi, *(row for row in holdout if row.intents[0] != UNKNOWN)]
        clauses = [split_clauses(row.text) for row in rows]
        meta = model.meta
        meta.secondary_threshold, meta.clause_threshold = fit_multi_intent_thresholds(
            model,
            embedder.embed([row.text for row in rows]),
            [embedder.embed(parts) if len(parts) > 1 else np.zeros((0, 0)) for parts in clauses],
            [row.intents for row in rows],
        )
    return model


def train_default_model(embedder: Embedder) -> IntentModel:
    """The agent's default model, from the project's own data."""
    return fit_rows(
        embedder,
        read_labelled_csv(TRAIN_FILE),
        holdout=read_labelled_csv(HOLDOUT_FILE),
        multi=read_labelled_csv(MULTI_FILE),
    )
