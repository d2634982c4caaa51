"""Must-escalate situations recognised by meaning: a fitted logistic probe per situation.

Each situation (a safety hazard, an account takeover, a misdelivered parcel, ...) is a linear
model over the turn's sentence embedding, the vector the classifier already computed, and
the TF-IDF of the text's character n-grams, with a threshold fitted by ``supportgraph
escalation fit-situations``. No model is loaded here, only the fitted numbers.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATED_SITUATIONS_FILE = Path(__file__).with_name("situations.calibrated.json")
# In the order a hard rule names them when several apply: a hazard raises the ticket's priority.
SITUATIONS = (
    "safety_hazard",
    "distress",
    "account_takeover",
    "legal_threat",
    "payment_dispute",
    "misdelivery",
)
SIGNAL_PREFIX = "situation_"
# Character n-grams within words, each word padded with a space: scikit-learn's "char_wb"
# analyzer, which the fit uses (``situation_fit.gram_vectorizer``); a test holds them equal.
GRAM_RANGE = (2, 5)
_RUNS_OF_SPACE = re.compile(r"\s\s+")


def char_grams(text: str) -> list[str]:
    """The text's character n-grams, word by word, lower-cased."""
    low, high = GRAM_RANGE
    grams: list[str] = []
    for word in _RUNS_OF_SPACE.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:
                grams.append(padded)  # a word this short counts once, whole
                break
            grams.extend(padded[start : start + n] for start in range(len(padded) - n + 1))
    return grams


@dataclass(frozen=True)
class CharGrams:
    """The fitted n-grams (in feature order) and their inverse document frequencies."""

    vocabulary: list[str]
    idf: list[float]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {gram: index for index, gram in enumerate(self.vocabulary)}

    def features(self, text: str) -> tuple[list[int], np.ndarray]:
        """The text's TF-IDF as feature indices and their values (sublinear, unit length)."""
        index, idf = self._index, self.idf
        counts = Counter(index[gram] for gram in char_grams(text) if gram in index)
        columns = sorted(counts)
        values = np.asarray(
            [(1.0 + math.log(counts[column])) * idf[column] for column in columns],
            dtype=np.float64,
        )
        norm = float(np.linalg.norm(values))
        return columns, values / norm if norm else values


@dataclass(frozen=True)
class SituationProbe:
    """One situation's weights over the embedding and the n-grams, bias, probability threshold."""

    weights: list[float]
    bias: float
    threshold: float
    gram_weights: list[float] = field(default_factory=list)

    @cached_property
    def _weights(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float32)

    def probability(self, vector: np.ndarray, grams: float = 0.0) -> float:
        """The situation's score for one unit-length embedding, 0-1.

        ``grams`` is the n-grams' part of the logit (see ``SituationModel.scores``).
        """
        logit = float(np.dot(self._weights, vector)) + self.bias + grams
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


@dataclass(frozen=True)
class SituationModel:
    """The probes of every situation, the encoder they were fitted on, and the fit's figures."""

    probes: dict[str, SituationProbe]
    embedding_model: str
    source: str = "fitted"
    metrics: dict[str, Any] = field(default_factory=dict)
    grams: CharGrams | None = None

    @cached_property
    def _gram_weights(self) -> np.ndarray:
        """Every probe's n-gram weights, a column each in the order of ``probes``."""
        return np.asarray([p.gram_weights for p in self.probes.values()], dtype=np.float32).T

    def scores(self, vector: list[float] | np.ndarray | None, text: str = "") -> dict[str, float]:
        """Each situation's score for the turn's embedding and text (all 0 without a vector).

        The text is the one the embedding was made from (the classifier's model text).
        """
        if vector is None or len(vector) == 0:
            return dict.fromkeys(self.probes, 0.0)
        array = np.asarray(vector, dtype=np.float32)
        grams = [0.0] * len(self.probes)
        if self.grams is not None and text:
            columns, values = self.grams.features(text)
            if columns:
                grams = (values @ self._gram_weights[columns]).tolist()
        return {
            name: probe.probability(array, part)
            for (name, probe), part in zip(self.probes.items(), grams, strict=True)
        }

    def detected(self, scores: dict[str, float]) -> tuple[str, float, float] | None:
        """The first situation (in ``SITUATIONS`` order) whose score reaches its threshold."""
        ordered = [name for name in SITUATIONS if name in self.probes]
        ordered += sorted(name for name in self.probes if name not in SITUATIONS)
        for name in ordered:
            threshold = self.probes[name].threshold
            if scores.get(name, 0.0) >= threshold:
                return name, scores[name], threshold
        return None

    def to_json(self) -> str:
        """A JSON document that :func:`load_situation_model` reads back.

        One line: the n-grams' vocabulary and weights are tens of thousands of numbers.
        """
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def load_situation_model(path: Path = CALIBRATED_SITUATIONS_FILE) -> SituationModel:
    """The situation probes stored by a fit."""
    raw = json.loads(path.read_text())
    return SituationModel(
        probes={name: SituationProbe(**probe) for name, probe in raw["probes"].items()},
        embedding_model=raw["embedding_model"],
        source=raw.get("source", "fitted"),
        metrics=raw.get("metrics", {}),
        grams=CharGrams(**raw["grams"]) if raw.get("grams") else None,
    )
