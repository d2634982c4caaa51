"""Must-escalate situations recognised by meaning: a fitted logistic probe per situation.

Each situation (a safety hazard, an account takeover, a misdelivered parcel, ...) is a linear
model over the turn's sentence embedding, the vector the classifier already computed, with
a threshold fitted by ``supportgraph escalation fit-situations``. Pure: no model is loaded
here, only the fitted numbers.
"""

from __future__ import annotations

import json
import math
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


@dataclass(frozen=True)
class SituationProbe:
    """One situation's weights over the embedding, bias and threshold on the probability."""

    weights: list[float]
    bias: float
    threshold: float

    @cached_property
    def _weights(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float32)

    def probability(self, vector: np.ndarray) -> float:
        """The situation's score for one unit-length embedding, 0-1."""
        logit = float(np.dot(self._weights, vector)) + self.bias
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


@dataclass(frozen=True)
class SituationModel:
    """The probes of every situation, the encoder they were fitted on, and the fit's figures."""

    probes: dict[str, SituationProbe]
    embedding_model: str
    source: str = "fitted"
    metrics: dict[str, Any] = field(default_factory=dict)

    def scores(self, vector: list[float] | np.ndarray | None) -> dict[str, float]:
        """Each situation's score for the turn's embedding (all 0 without one)."""
        if vector is None or len(vector) == 0:
            return dict.fromkeys(self.probes, 0.0)
        array = np.asarray(vector, dtype=np.float32)
        return {name: probe.probability(array) for name, probe in self.probes.items()}

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
        """A JSON document that :func:`load_situation_model` reads back."""
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def load_situation_model(path: Path = CALIBRATED_SITUATIONS_FILE) -> SituationModel:
    """The situation probes stored by a fit."""
    raw = json.loads(path.read_text())
    return SituationModel(
        probes={name: SituationProbe(**probe) for name, probe in raw["probes"].items()},
        embedding_model=raw["embedding_model"],
        source=raw.get("source", "fitted"),
        metrics=raw.get("metrics", {}),
    )
