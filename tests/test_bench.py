"""`make bench`'s turn breakdown: where a turn's time goes, node by node and phase by phase."""

from __future__ import annotations

from supportgraph.bench import bench_turns, turn_breakdown
from supportgraph.services import Services

NODES = {"guard", "classify", "retrieve", "resolve", "gate", "respond"}
PHASES = {"admission", "open_ticket", "lock", "after_nodes", "store"}


def test_the_breakdown_names_every_node_and_phase_and_adds_up_to_the_turn(
    services: Services,
) -> None:
    report = bench_turns(services, turns=6)

    breakdown = report["turn_breakdown"]
    assert set(breakdown) >= NODES | PHASES
    assert all(row["turns"] == 6 for name, row in breakdown.items() if name in NODES | PHASES)
    means = [row["mean_ms"] for row in breakdown.values()]
    assert means == sorted(means, reverse=True)
    assert "graph" not in breakdown  # its nodes stand for it
    # the parts are measured back to back inside the turn, so they add up to it
    turn_ms = report["turn"]["mean_ms"]
    assert 0.9 * turn_ms < sum(means) <= turn_ms + 0.01
    assert report["turn_cpu"]["n"] == 6 and report["turn_cpu"]["p50_ms"] > 0


def test_a_node_seen_in_some_turns_is_averaged_over_every_turn() -> None:
    rows = turn_breakdown({"handoff": [30.0], "classify": [4.0, 6.0]}, turns=2)

    assert list(rows) == ["handoff", "classify"]
    assert rows["handoff"] == {"turns": 1, "mean_ms": 15.0, "p50_ms": 30.0, "p95_ms": 30.0}
    assert rows["classify"]["mean_ms"] == 5.0
