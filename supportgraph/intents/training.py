"""Training intent models from labelled rows (the project's files, feedback, any CSV)."""

from __future__ import annotations

from collections.abc import Sequence

from supportgraph.intents.model import (
    HOLDOUT_FILE,
    MULTI_FILE,
    TRAIN_FILE,
    IntentModel,
    LabelledText,
    fit_intent_model,
    read_labelled_csv,
)
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
    several = (
        (embedder.embed([row.text for row in multi]), [row.intents for row in multi])
        if multi
        else None
    )
    return fit_intent_model(
        vectors,
        [row.intents[0] for row in train],
        sub_labels=[row.sub_intent for row in train],
        holdout=held,
        multi=several,
    )


def train_default_model(embedder: Embedder) -> IntentModel:
    """The agent's default model, from the project's own data."""
    return fit_rows(
        embedder,
        read_labelled_csv(TRAIN_FILE),
        holdout=read_labelled_csv(HOLDOUT_FILE),
        multi=read_labelled_csv(MULTI_FILE),
    )
