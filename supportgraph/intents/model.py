"""The embedding tier: a calibrated linear classifier over the turn's sentence embedding."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from supportgraph.db.models import utcnow
from supportgraph.intents.taxonomy import DATA_DIR, UNKNOWN

TRAIN_FILE = DATA_DIR / "utterances.csv"
HOLDOUT_FILE = DATA_DIR / "holdout.csv"
MULTI_FILE = DATA_DIR / "multi_intent.csv"


@dataclass
class ModelMeta:
    """What a trained model is and how its thresholds were fitted."""

    version: str
    labels: list[str]
    unknown_threshold: float
    secondary_threshold: float
    trained_at: str
    n_train: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelledText:
    """A text with its intent (or several, for multi-intent data)."""

    text: str
    intents: tuple[str, ...]


def read_labelled_csv(path: Path) -> list[LabelledText]:
    """Rows of ``text,intent`` (or ``text,intents`` with ``|`` between intents)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        column = "intent" if reader.fieldnames and "intent" in reader.fieldnames else "intents"
        return [
            LabelledText(row["text"].strip(), tuple(row[column].strip().split("|")))
            for row in reader
            if row.get("text", "").strip()
        ]


class IntentModel:
    """Logistic regression over unit-length sentence embeddings, with fitted thresholds."""

    def __init__(self, classifier: LogisticRegression, meta: ModelMeta) -> None:
        """Wrap a fitted classifier and its metadata."""
        self.classifier = classifier
        self.meta = meta

    @property
    def version(self) -> str:
        """The model version recorded with each classification."""
        return self.meta.version

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities, one row per vector, columns in ``meta.labels`` order."""
        return np.asarray(self.classifier.predict_proba(np.atleast_2d(vectors)))

    def save(self, directory: Path) -> None:
        """Write the model and its metadata to a folder."""
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.classifier, directory / "classifier.joblib")
        (directory / "meta.json").write_text(json.dumps(asdict(self.meta), indent=2))

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        """Read a model written by :meth:`save`."""
        meta = ModelMeta(**json.loads((directory / "meta.json").read_text()))
        return cls(joblib.load(directory / "classifier.joblib"), meta)


def fit_intent_model(
    train_vectors: np.ndarray,
    train_labels: Sequence[str],
    *,
    holdout: tuple[np.ndarray, Sequence[str]] | None = None,
    multi: tuple[np.ndarray, Sequence[tuple[str, ...]]] | None = None,
) -> IntentModel:
    """Fit the classifier, then fit its thresholds on data it was not trained on."""
    classifier = LogisticRegression(C=10.0, max_iter=2000)
    classifier.fit(train_vectors, list(train_labels))
    labels = [str(label) for label in classifier.classes_]
    digest = hashlib.sha256(train_vectors.tobytes()).hexdigest()[:8]
    meta = ModelMeta(
        version=f"intent-{utcnow():%Y%m%d%H%M%S}-{digest}",
        labels=labels,
        unknown_threshold=0.0,
        secondary_threshold=1.0,
        trained_at=utcnow().isoformat(),
        n_train=len(train_labels),
    )
    model = IntentModel(classifier, meta)
    if holdout is not None and len(holdout[1]):
        meta.unknown_threshold, accuracy = fit_unknown_threshold(model, *holdout)
        meta.metrics["holdout_accuracy"] = accuracy
    if multi is not None and len(multi[1]):
        meta.secondary_threshold = fit_secondary_threshold(model, *multi)
    return model


def fit_unknown_threshold(
    model: IntentModel, vectors: np.ndarray, labels: Sequence[str]
) -> tuple[float, float]:
    """The top-probability cut-off below which a message is 'unknown', maximizing accuracy."""
    probs = model.probabilities(vectors)
    top = probs.max(axis=1)
    predicted = np.array(model.meta.labels)[probs.argmax(axis=1)]
    truth = np.array(labels)
    best = (0.0, -1.0)
    for threshold in np.unique(np.concatenate([[0.0], top])):
        decided = np.where(top < threshold, UNKNOWN, predicted)
        accuracy = float((decided == truth).mean())
        if accuracy > best[1]:
            best = (float(threshold), accuracy)
    return best


def fit_secondary_threshold(
    model: IntentModel, vectors: np.ndarray, intents: Sequence[tuple[str, ...]]
) -> float:
    """The probability a second intent needs to be reported, maximizing F1 on multi-intent data."""
    probs = model.probabilities(vectors)
    labels = model.meta.labels
    best = (1.0, -1.0)
    for threshold in np.linspace(0.05, 0.6, 23):
        tp = fp = fn = 0
        for row, gold in zip(probs, intents, strict=True):
            found = {labels[i] for i in np.argsort(row)[::-1][:3] if row[i] >= threshold}
            found.add(labels[int(row.argmax())])
            found.discard(UNKNOWN)
            tp += len(found & set(gold))
            fp += len(found - set(gold))
            fn += len(set(gold) - found)
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if f1 > best[1]:
            best = (float(threshold), f1)
    return best[0]
