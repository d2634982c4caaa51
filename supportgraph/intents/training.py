"""Training the serving intent model from the project's labelled utterances."""

from __future__ import annotations

from pathlib import Path

from supportgraph.intents.model import (
    HOLDOUT_FILE,
    MULTI_FILE,
    TRAIN_FILE,
    IntentModel,
    fit_intent_model,
    read_labelled_csv,
)
from supportgraph.knowledge.embedder import Embedder


def train_from_files(
    embedder: Embedder,
    train_file: Path,
    *,
    holdout_file: Path | None = None,
    multi_file: Path | None = None,
) -> IntentModel:
    """Embed labelled files and fit the model and its thresholds."""
    train = read_labelled_csv(train_file)
    vectors = embedder.embed([row.text for row in train])
    holdout = multi = None
    if holdout_file is not None and holdout_file.exists():
        rows = read_labelled_csv(holdout_file)
        holdout = (embedder.embed([row.text for row in rows]), [row.intents[0] for row in rows])
    if multi_file is not None and multi_file.exists():
        rows = read_labelled_csv(multi_file)
        multi = (embedder.embed([row.text for row in rows]), [row.intents for row in rows])
    return fit_intent_model(
        vectors,
        [row.intents[0] for row in train],
        sub_labels=[row.sub_intent for row in train],
        holdout=holdout,
        multi=multi,
    )


def train_default_model(embedder: Embedder) -> IntentModel:
    """The agent's default model, from the project's own data."""
    return train_from_files(embedder, TRAIN_FILE, holdout_file=HOLDOUT_FILE, multi_file=MULTI_FILE)
