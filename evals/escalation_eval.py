"""Labelled conversations for the escalation gate: replay them, collect signals, score."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from evals.runner import Workspace, sandbox

ESCALATION_DIR = Path(__file__).parent / "escalation"
CALIBRATION_FILE = ESCALATION_DIR / "calibration.jsonl"
EVAL_FILE = ESCALATION_DIR / "eval.jsonl"


class LabelledTurn(BaseModel):
    """A customer message and whether a person should take over after it."""

    message: str
    escalate: bool
    must: bool = False


class LabelledConversation(BaseModel):
    """A conversation labelled turn by turn."""

    id: str
    customer_id: str
    tags: list[str] = []
    turns: list[LabelledTurn]


@dataclass(frozen=True)
class MeasuredTurn:
    """What the gate measured on a labelled turn."""

    conversation: str
    signals: dict[str, float]
    hard_rule: str | None
    escalate: bool
    must: bool
    escalated: bool


def load_conversations(path: Path) -> list[LabelledConversation]:
    """Labelled conversations from a JSON-lines file."""
    lines = path.read_text().splitlines()
    return [LabelledConversation.model_validate(json.loads(line)) for line in lines if line.strip()]


def measure(
    workspace: Workspace, conversations: list[LabelledConversation], *, measure_only: bool
) -> list[MeasuredTurn]:
    """Replay conversations; with ``measure_only`` the gate records but never hands off."""
    measured: list[MeasuredTurn] = []
    for conversation in conversations:
        with sandbox(workspace, f"esc-{conversation.id}", measure_only=measure_only) as support:
            ticket_id = None
            for turn in conversation.turns:
                result = support.handle_message(
                    ticket_id=ticket_id, customer_id=conversation.customer_id, message=turn.message
                )
                ticket_id = result.ticket_id
                gate = result.state.get("gate") or {}
                signals = {k: v["value"] for k, v in (gate.get("signals") or {}).items()}
                rule = gate.get("rule_id")
                measured.append(
                    MeasuredTurn(
                        conversation=conversation.id,
                        signals=signals,
                        hard_rule=rule if rule and not str(rule).startswith("score.") else None,
                        escalate=turn.escalate,
                        must=turn.must,
                        escalated=bool(result.state.get("escalated")),
                    )
                )
                if result.state.get("escalated"):
                    break
    return measured


def escalation_metrics(turns: list[MeasuredTurn]) -> dict[str, Any]:
    """Missed must-escalate turns, missed and unnecessary escalations, automation."""
    must = [t for t in turns if t.must]
    should = [t for t in turns if t.escalate]
    should_not = [t for t in turns if not t.escalate]
    return {
        "escalation_turns": len(turns),
        "escalation_missed_must": sum(not t.escalated for t in must),
        "escalation_missed": sum(not t.escalated for t in should),
        "escalation_missed_rate": round(
            sum(not t.escalated for t in should) / max(1, len(should)), 4
        ),
        "escalation_unnecessary_rate": round(
            sum(t.escalated for t in should_not) / max(1, len(should_not)), 4
        ),
    }
