"""Respond: turns the resolver's answer parts into the customer's reply, from templates."""

from __future__ import annotations

from typing import Any

from graph.state import TicketState
from supportgraph.replies import render

# Said only before a handoff. A turn that reaches respond is not handed off: its "Of course."
# or "a team member approves this" came from a faint second intent the gate rightly ignored.
HANDOFF_ONLY_KINDS = frozenset({"handoff_requested", "needs_human"})


def respond(state: TicketState) -> dict[str, Any]:
    """Write the reply and add it to the transcript."""
    reply = render([part for part in state["answer"] if part["kind"] not in HANDOFF_ONLY_KINDS])
    return {
        "response": reply,
        "transcript": [{"role": "ai", "content": reply, "turn": state["turn"]}],
    }
