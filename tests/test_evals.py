"""The eval gate: thresholds are data and a breach is reported."""

from __future__ import annotations

import tomllib
from pathlib import Path

from evals.runner import DEFAULT_THRESHOLDS, check_thresholds

REPORT = {
    "metrics": {
        "scenario_pass_rate": 0.80,
        "intent_accuracy": 0.95,
        "latency_p95_ms": 1250.5,
        "missed_escalations": 0,
    }
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    return path


def test_metric_below_min_and_above_max_are_flagged(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "min_scenario_pass_rate = 0.85\nmin_intent_accuracy = 0.90\n"
        "max_latency_p95_ms = 1000\nmax_missed_escalations = 0\n",
    )
    assert check_thresholds(REPORT, path) == [
        "scenario_pass_rate=0.8 < 0.85",
        "latency_p95_ms=1250.5 > 1000",
    ]


def test_bounds_are_inclusive(tmp_path: Path) -> None:
    path = write(tmp_path, "min_intent_accuracy = 0.95\nmax_latency_p95_ms = 1250.5\n")
    assert check_thresholds(REPORT, path) == []


def test_missing_metric_is_a_breach(tmp_path: Path) -> None:
    path = write(tmp_path, "min_deflection_rate = 0.6\n")
    assert check_thresholds(REPORT, path) == ["deflection_rate: missing from the report"]


def test_default_thresholds_are_well_formed() -> None:
    limits = tomllib.loads(DEFAULT_THRESHOLDS.read_text())
    assert limits
    assert all(key.split("_", 1)[0] in ("min", "max") for key in limits)
    assert limits["max_latency_p95_ms"] <= 1000
    assert limits["max_unauthorized_side_effects"] == 0 and limits["max_policy_violations"] == 0


def test_misspelled_threshold_is_not_silently_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "mni_scenario_pass_rate = 0.85\n")
    try:
        broken = check_thresholds(REPORT, path)
    except ValueError:
        return
    assert broken, "a threshold that checks nothing must be reported"
