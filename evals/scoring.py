"""Scoring a turn against its expectations, from the graph's state and the database."""

from __future__ import annotations

from typing import Any

from evals.scenarios import Expect


def score_turn(expect: Expect, state: dict[str, Any]) -> list[str]:
    """The expectations this turn broke (empty when it passed)."""
    failures: list[str] = []
    intents = [view["intent"] for view in state.get("intents") or []]
    if expect.intents is not None and not set(expect.intents) <= set(intents):
        failures.append(f"intents {intents} lack {sorted(set(expect.intents) - set(intents))}")
    escalated = bool(state.get("escalated"))
    if expect.escalated is not None and escalated != expect.escalated:
        failures.append(f"escalated={escalated}, expected {expect.escalated}")
    actions = state.get("actions") or []
    proposed = {
        a["action"] for a in actions if a["status"] == "proposed" and not a["requires_human"]
    }
    executed = {a["action"] for a in actions if a["status"] == "executed"}
    for name in expect.actions_available:
        if name not in proposed:
            failures.append(f"action {name} not proposed (proposed: {sorted(proposed)})")
    for name in expect.actions_absent:
        if name in proposed:
            failures.append(f"action {name} proposed but must not be")
    for name in expect.executed:
        if name not in executed:
            failures.append(f"action {name} not executed (executed: {sorted(executed)})")
    response = (state.get("response") or "").lower()
    for needle in expect.response_contains:
        if needle.lower() not in response:
            failures.append(f"response lacks {needle!r}")
    sources = [source["id"] for source in state.get("sources") or []]
    cited = {source.split("#")[0] for source in sources} | set(sources)
    for source_id in expect.sources_include:
        if source_id not in cited:
            failures.append(f"source {source_id} not cited")
    return failures


def score_final_state(
    expected: dict[str, Any] | None, orders: dict[str, dict[str, Any]]
) -> list[str]:
    """Database expectations after the last turn (order fields by order id)."""
    failures: list[str] = []
    for order_id, fields in (expected or {}).get("orders", {}).items():
        actual = orders.get(order_id)
        if actual is None:
            failures.append(f"order {order_id} missing")
            continue
        for name, value in fields.items():
            if str(actual.get(name)) != str(value):
                failures.append(f"order {order_id} {name}={actual.get(name)!r}, expected {value!r}")
    return failures
