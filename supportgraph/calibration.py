"""Fitting the escalation gate's weights and threshold to a stated miss target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from policies.gate_model import GateModel
from supportgraph.db.models import utcnow


@dataclass(frozen=True)
class CurvePoint:
    """The trade-off at one threshold, over the turns no hard rule decided."""

    threshold: float
    missed_rate: float
    unnecessary_rate: float
    automation: float


def fit_gate(
    signals: Sequence[dict[str, float]],
    labels: Sequence[bool],
    *,
    names: Sequence[str],
    target_missed: float | None = None,
    max_unnecessary: float | None = 0.12,
) -> tuple[GateModel, list[CurvePoint]]:
    """Logistic weights over the signals, then the threshold that meets the stated target.

    With ``target_missed`` it is the highest threshold missing at most that share of the
    turns that should escalate (the most automation); with ``max_unnecessary`` the lowest
    threshold escalating at most that share of the turns that should not (the fewest misses).
    """
    x = np.array([[row.get(name, 0.0) for name in names] for row in signals], dtype=float)
    y = np.array(labels, dtype=int)
    if len(set(y.tolist())) < 2:
        raise ValueError("calibration needs turns that should and should not escalate")
    regression = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(x, y)
    scores = regression.predict_proba(x)[:, 1]
    curve = trade_off_curve(scores, y)
    chosen = choose_threshold(curve, target_missed=target_missed, max_unnecessary=max_unnecessary)
    model = GateModel(
        weights={
            name: round(float(w), 4) for name, w in zip(names, regression.coef_[0], strict=True)
        },
        bias=round(float(regression.intercept_[0]), 4),
        threshold=round(chosen.threshold, 4),
        source=f"calibrated:{utcnow():%Y-%m-%dT%H:%M:%SZ}",
        metrics={
            "target": (
                {"missed_rate_at_most": target_missed}
                if target_missed is not None
                else {"unnecessary_rate_at_most": max_unnecessary}
            ),
            "missed_rate": chosen.missed_rate,
            "unnecessary_rate": chosen.unnecessary_rate,
            "automation": chosen.automation,
            "turns": len(y),
            "positives": int(y.sum()),
        },
    )
    return model, curve


def choose_threshold(
    curve: list[CurvePoint], *, target_missed: float | None, max_unnecessary: float | None
) -> CurvePoint:
    """The curve point that meets the target best (see :func:`fit_gate`)."""
    if target_missed is not None:
        meeting = [p for p in curve if p.missed_rate <= target_missed]
        return max(meeting, key=lambda p: p.threshold) if meeting else curve[0]
    limit = 0.15 if max_unnecessary is None else max_unnecessary
    meeting = [p for p in curve if p.unnecessary_rate <= limit]
    return min(meeting, key=lambda p: p.threshold) if meeting else curve[-1]


def trade_off_curve(scores: np.ndarray, labels: np.ndarray) -> list[CurvePoint]:
    """Missed and unnecessary escalation rates, and automation, at every useful threshold."""
    positives = max(1, int(labels.sum()))
    negatives = max(1, int((1 - labels).sum()))
    points = []
    for threshold in np.unique(np.concatenate([scores, [1.0]])):
        escalated = scores >= threshold
        points.append(
            CurvePoint(
                threshold=float(threshold),
                missed_rate=round(float((~escalated & (labels == 1)).sum()) / positives, 4),
                unnecessary_rate=round(float((escalated & (labels == 0)).sum()) / negatives, 4),
                automation=round(float((~escalated).mean()), 4),
            )
        )
    return points


def plot_curve(curve: list[CurvePoint], chosen: float, path: Any) -> None:
    """Write the trade-off curve as a PNG (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    thresholds = [p.threshold for p in curve]
    axis.plot(thresholds, [p.missed_rate for p in curve], label="missed escalations")
    axis.plot(thresholds, [p.unnecessary_rate for p in curve], label="unnecessary escalations")
    axis.plot(thresholds, [p.automation for p in curve], label="automated turns")
    axis.axvline(chosen, linestyle="--", color="grey", label=f"chosen {chosen:.2f}")
    axis.set_xlabel("threshold on the escalation score")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
