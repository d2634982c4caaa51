"""Respond: turns the resolver's answer parts into the customer's reply, from templates."""

from __future__ import annotations

from typing import Any

from graph.state import TicketState
from supportgraph.replies import render


def respond(state: TicketState) -> dict[str, Any]:
    """Write the reply and add it to the transcript."""
    reply = render(state["answer"])
    return {
        "response": reply,
        "transcript": [{"role": "ai", "content": reply, "turn": state["turn"]}],
    }
