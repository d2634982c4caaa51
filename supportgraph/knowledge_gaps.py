"""Knowledge gaps: the questions the help centre could not answer, for the team to write up.

A turn leaves a gap when an intent that answers from the help centre found no passage that
answers its question. The question is the intent's own part of a message that asks several
things, otherwise the (masked) message. The list in analytics groups the same question asked
again, most asked first, with the article that came nearest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graph.state import asked_question
from supportgraph.db.models import KnowledgeGap

# Answer kinds that mean "the help centre has nothing that answers this".
GAP_KINDS = frozenset({"no_answer", "unanswerable"})
GAP_LIST_LIMIT = 50
_SPACE_OR_END = re.compile(r"[\s?.!]+")


@dataclass(frozen=True)
class TurnGap:
    """One unanswered question of a turn."""

    intent: str
    question: str
    nearest_source_id: str | None
    nearest_score: float | None


def gaps_of_turn(state: Mapping[str, Any]) -> list[TurnGap]:
    """The questions of a finished turn that the help centre could not answer."""
    unanswered = [part for part in state.get("answer", []) if part["kind"] in GAP_KINDS]
    if not unanswered:
        return []
    articles = [s for s in state.get("sources", []) if s["kind"] in ("article", "resolution")]
    nearest = max(articles, key=lambda s: s["score"], default=None)
    return [
        TurnGap(
            intent=part["intent"],
            question=asked_question(state, part["intent"]),
            nearest_source_id=nearest["id"] if nearest else None,
            nearest_score=round(float(nearest["score"]), 4) if nearest else None,
        )
        for part in unanswered
    ]


def gap_records(ticket_id: str, message_id: str, gaps: Iterable[TurnGap]) -> list[KnowledgeGap]:
    """The rows a turn's gaps are stored as."""
    return [
        KnowledgeGap(
            ticket_id=ticket_id,
            message_id=message_id,
            intent=gap.intent,
            question=gap.question,
            nearest_source_id=gap.nearest_source_id,
            nearest_score=gap.nearest_score,
        )
        for gap in gaps
    ]


def same_question(question: str) -> str:
    """The key under which one question asked again is counted once: case, spacing, ending."""
    return _SPACE_OR_END.sub(" ", question.lower()).strip()


def gap_list(gaps: Sequence[KnowledgeGap], limit: int = GAP_LIST_LIMIT) -> list[dict[str, Any]]:
    """The period's gaps, one row per question, the most asked and then the latest first."""
    groups: dict[str, list[KnowledgeGap]] = {}
    for gap in gaps:
        groups.setdefault(same_question(gap.question), []).append(gap)
    latest_first = sorted(
        ((max(group, key=lambda g: g.created_at), group) for group in groups.values()),
        key=lambda pair: (-len(pair[1]), -pair[0].created_at.timestamp()),
    )
    rows = []
    for latest, group in latest_first[:limit]:
        rows.append(
            {
                "question": latest.question,
                "intent": latest.intent,
                "count": len(group),
                "tickets": len({g.ticket_id for g in group}),
                "nearest_source_id": latest.nearest_source_id,
                "last_asked_at": latest.created_at,
            }
        )
    return rows
