"""The soft half of the escalation gate: a logistic score over measured signals. Pure."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_GATE_FILE = Path(__file__).with_name("gate.toml")
CALIBRATED_GATE_FILE = Path(__file__).with_name("gate.calibrated.json")


@dataclass(frozen=True)
class GateModel:
    """Weights, bias and threshold of the soft score, and where they came from."""

    weights: dict[str, float]
    bias: float
    threshold: float
    source: str = "priors"
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def signals(self) -> list[str]:
        """The signal names, in a fixed order."""
        return sorted(self.weights)

    def score(self, signals: dict[str, float]) -> tuple[float, dict[str, float]]:
        """The 0-1 escalation score and each signal's contribution to the logit."""
        contributions = {
            name: self.weights.get(name, 0.0) * signals.get(name, 0.0) for name in signals
        }
        logit = self.bias + sum(contributions.values())
        return 1.0 / (1.0 + math.exp(-logit)), contributions

    def to_json(self) -> str:
        """A JSON document that :func:`load_gate_model` reads back."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def load_gate_model(path: Path = DEFAULT_GATE_FILE) -> GateModel:
    """A gate model from the priors (TOML) or from a calibration (JSON)."""
    if path.suffix == ".json":
        return GateModel(**json.loads(path.read_text()))
    raw = tomllib.loads(path.read_text())
    return GateModel(
        weights={k: float(v) for k, v in raw["weights"].items()},
        bias=float(raw["bias"]),
        threshold=float(raw["threshold"]),
        source=f"priors:{path.name}",
    )
