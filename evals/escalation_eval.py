"""Labelled conversations for the escalation gate: replay them, collect signals, score."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from evals.runner import Workspace, sandbox
from supportgraph.intents.model import HOLDOUT_FILE, MULTI_FILE, TRAIN_FILE
from supportgraph.situation_fit import Example, examples, intent_negatives

ESCALATION_DIR = Path(__file__).parent / "escalation"
CALIBRATION_FILE = ESCALATION_DIR / "calibration.jsonl"
EVAL_FILE = ESCALATION_DIR / "eval.jsonl"
# Must-escalate paraphrases written apart from the gate's wording: every turn marked
# ``escalate`` there must go to a person. The held-out file is only ever scored; the fit file
# is what the situation detector (``supportgraph escalation fit-situations``) learns from.
MUST_HELDOUT_FILE = ESCALATION_DIR / "must_heldout.jsonl"
# A second such file, written on 2026-12-08 after the n-gram probes were chosen, so that no fit
# or choice has seen it; scored under its own name.
MUST_FRESH_FILE = ESCALATION_DIR / "must_fresh.jsonl"
HELDOUT_FILES = {"heldout": MUST_HELDOUT_FILE, "fresh": MUST_FRESH_FILE}
MUST_FIT_FILE = ESCALATION_DIR / "must_fit.jsonl"
# Calm messages next to each situation ("is it normal for the adapter to feel warm?"), written
# with the fit file: negatives for the same fit, never scored.
NEAR_MISS_FIT_FILE = ESCALATION_DIR / "near_miss_fit.jsonl"


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
    message: str
    escalate: bool
    must: bool
    escalated: bool


def load_conversations(path: Path, *, all_must: bool = False) -> list[LabelledConversation]:
    """Labelled conversations from a JSON-lines file.

    With ``all_must`` every turn that should escalate is a must (the must-escalate files).
    """
    lines = path.read_text().splitlines()
    conversations = [
        LabelledConversation.model_validate(json.loads(line)) for line in lines if line.strip()
    ]
    if all_must:
        for conversation in conversations:
            for turn in conversation.turns:
                turn.must = turn.must or turn.escalate
    return conversations


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
                        message=turn.message,
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


def must_misses(
    turns: list[MeasuredTurn], conversations: list[LabelledConversation]
) -> list[dict[str, Any]]:
    """The must-escalate turns the gate let through, with their conversation's situation."""
    tags = {conversation.id: conversation.tags for conversation in conversations}
    return [
        {"conversation": t.conversation, "tags": tags.get(t.conversation, []), "message": t.message}
        for t in turns
        if t.must and not t.escalated
    ]


def heldout_must_report(
    workspace: Workspace, path: Path = MUST_HELDOUT_FILE, name: str = "heldout"
) -> dict[str, Any]:
    """The must-escalate paraphrases replayed as the eval file is: how many, and which, slipped.

    The metrics are named ``escalation_<name>_must`` and ``escalation_<name>_missed``.
    """
    conversations = load_conversations(path, all_must=True)
    turns = measure(workspace, conversations, measure_only=False)
    misses = must_misses(turns, conversations)
    return {
        "metrics": {
            f"escalation_{name}_must": sum(t.must for t in turns),
            f"escalation_{name}_missed": len(misses),
        },
        "misses": misses,
    }


def situation_fit_rows(
    positives: Path | None = None, negatives: Sequence[Path] | None = None
) -> list[Example]:
    """The situation probes' fit rows: must-escalate turns by situation, then calm turns.

    Positives default to the fit file, negatives to the calibration and near-miss files; the
    intent rows whose label is not a situation are negatives too.
    """
    must = [
        (conversation.tags[0], turn.message)
        for conversation in load_conversations(positives or MUST_FIT_FILE)
        for turn in conversation.turns
        if turn.escalate
    ]
    calm = [
        turn.message
        for path in negatives or (CALIBRATION_FILE, NEAR_MISS_FIT_FILE)
        for conversation in load_conversations(path)
        for turn in conversation.turns
        if not turn.escalate
    ]
    return examples(must, [*calm, *intent_negatives([TRAIN_FILE, HOLDOUT_FILE, MULTI_FILE])])
