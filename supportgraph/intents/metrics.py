"""Classification metrics in the shape the ``classifier eval`` command prints."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score

from supportgraph.intents.taxonomy import UNKNOWN


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), 0.0 for no values."""
    return float(np.percentile(values, q)) if len(values) else 0.0


def classification_report(
    truth: Sequence[str], predicted: Sequence[str], latencies_ms: Sequence[float] = ()
) -> dict[str, float | int]:
    """Accuracy, macro-F1, in-scope accuracy and unknown precision/recall, with latency."""
    gold = np.asarray(truth)
    pred = np.asarray(predicted)
    in_scope = gold != UNKNOWN
    said_unknown = pred == UNKNOWN
    true_unknown = said_unknown & ~in_scope
    return {
        "accuracy": round(float((gold == pred).mean()) if len(gold) else 0.0, 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4),
        "in_scope_accuracy": round(
            float((gold[in_scope] == pred[in_scope]).mean()) if in_scope.any() else 0.0, 4
        ),
        "unknown_precision": round(
            float(true_unknown.sum() / said_unknown.sum()) if said_unknown.any() else 0.0, 4
        ),
        "unknown_recall": round(
            float(true_unknown.sum() / (~in_scope).sum()) if (~in_scope).any() else 0.0, 4
        ),
        "n": len(gold),
        "p50_ms": round(percentile(latencies_ms, 50), 3),
        "p95_ms": round(percentile(latencies_ms, 95), 3),
    }
