"""What the resolver's workflows share: the handler's shape and the part of a message asked."""

from __future__ import annotations

from collections.abc import Callable

from graph.state import AnswerPart, IntentView, TicketState
from supportgraph.db.models import ActionExecution
from tools.context import ToolContext

# Below this a second intent from the embedding model is a guess, not a finding.
SUSPECTED = 0.3


Handler = Callable[
    [ToolContext, TicketState, IntentView], tuple[AnswerPart, ActionExecution | None]
]


def asked_part(state: TicketState, view: IntentView | None) -> str:
    """The part of the message an intent was found in, else the whole message."""
    return (view.get("evidence") if view else None) or state["message"]
