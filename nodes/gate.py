"""Gate: decides whether a person takes over, from hard policy rules and weighted signals."""

from __future__ import annotations

from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from graph.context import AgentContext, services_of
from graph.state import GateView, TicketState
from policies.escalation import must_escalate

REPEAT_SIMILARITY = 0.92
LOW_CONFIDENCE = 0.5


def measure_signals(state: TicketState) -> dict[str, float]:
    """Each soft signal's value in [0, 1] for this turn."""
    primary = state["intents"][0] if state["intents"] else None
    history = state.get("intent_history", [])
    kinds = {part["kind"] for part in state["answer"]}
    return {
        "low_confidence": float(primary is not None and primary["confidence"] < LOW_CONFIDENCE),
        "unknown_streak": float(history[-2:] == ["unknown", "unknown"]),
        "repeated_message": float(_max_similarity(state) >= REPEAT_SIMILARITY),
        "failed_action": float(bool(kinds & {"action_failed", "action_denied"})),
        "no_answer": float("no_answer" in kinds),
        "prompt_injection": float("prompt_injection" in state.get("flags", [])),
    }


def _max_similarity(state: TicketState) -> float:
    vectors = state.get("recent_vectors", [])
    if len(vectors) < 2:
        return 0.0
    current = np.asarray(vectors[-1])
    earlier = np.asarray(vectors[:-1])
    return float((earlier @ current).max())


def gate(state: TicketState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Write the escalation decision for this turn."""
    rules = services_of(runtime).policy.escalation
    hard = must_escalate(
        [(view["intent"], view["sub_intent"]) for view in state["intents"]],
        turn=state["turn"],
        config=services_of(runtime).policy,
    )
    signals = measure_signals(state)
    contributions = {name: value * rules.weights.get(name, 0.0) for name, value in signals.items()}
    score = round(sum(contributions.values()), 4)
    needs_human = [p for p in state["answer"] if p["kind"] == "needs_human"]
    decision: GateView
    if not hard.allowed:
        decision = _decision(
            True, score, rules.threshold, signals, contributions, hard.rule_id, hard.reason
        )
    elif needs_human:
        reason = str(needs_human[0]["facts"].get("reason", "A person must approve this."))
        rule = str(needs_human[0]["facts"].get("rule_id", "policy.requires_human"))
        decision = _decision(True, score, rules.threshold, signals, contributions, rule, reason)
    elif score >= rules.threshold:
        top = max(contributions, key=lambda name: contributions[name])
        decision = _decision(
            True, score, rules.threshold, signals, contributions, f"score.{top}", f"Signals: {top}."
        )
    else:
        decision = _decision(
            False, score, rules.threshold, signals, contributions, None, "The agent can answer."
        )
    return {"gate": decision, "escalated": decision["escalate"]}


def _decision(
    escalate: bool,
    score: float,
    threshold: float,
    signals: dict[str, float],
    contributions: dict[str, float],
    rule_id: str | None,
    reason: str,
) -> GateView:
    return {
        "escalate": escalate,
        "score": score,
        "threshold": threshold,
        "signals": {
            name: {"value": value, "contribution": round(contributions[name], 4)}
            for name, value in signals.items()
        },
        "rule_id": rule_id,
        "reason": reason,
    }
