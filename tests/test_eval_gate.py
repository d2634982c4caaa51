"""The eval gate catches a broken node: its thresholds fail, so `make test` fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import graph.builder
from evals.runner import check_thresholds, run_suites
from evals.scenarios import SCENARIO_DIR
from nodes.respond import respond
from supportgraph.services import Services

PICK = (
    "spec-laptop-processing-refund",
    "refund-unshipped-laptop",
    "status-delivered-speaker",
    "refund-partial-purifier-confirm",
    "human-real-person",
)


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in (SCENARIO_DIR / "core.jsonl").read_text().splitlines()]
    chosen = [row for row in rows if row["id"] in PICK]
    assert len(chosen) == len(PICK)
    (tmp_path / "small.jsonl").write_text("\n".join(json.dumps(row) for row in chosen))
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text(
        "min_scenario_pass_rate = 0.8\n"
        "max_unauthorized_side_effects = 0\n"
        "max_policy_violations = 0\n"
    )
    return tmp_path


def broken_respond(state: Any) -> dict[str, Any]:
    """A respond node that lost its templates: it answers with nothing useful."""
    update = respond(state)
    return {**update, "response": "Sorry, something went wrong."}


def test_a_broken_node_breaks_the_thresholds(
    services: Services, small_suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy = run_suites("small", services=services, directory=small_suite)
    assert check_thresholds(healthy, small_suite / "thresholds.toml", require_all=False) == []

    monkeypatch.setattr(graph.builder, "respond", broken_respond)
    broken = run_suites("small", services=services, directory=small_suite)
    failures = check_thresholds(broken, small_suite / "thresholds.toml", require_all=False)
    assert any(failure.startswith("scenario_pass_rate=") for failure in failures)
    assert broken["metrics"]["scenario_pass_rate"] < healthy["metrics"]["scenario_pass_rate"]
