"""Guard: starts a turn, masks card numbers, extracts entities and flags risky input."""

from __future__ import annotations

from typing import Any

from graph.state import TicketState
from supportgraph import text as inspect

MAX_MESSAGE_CHARS = 4000


def guard(state: TicketState) -> dict[str, Any]:
    """Open a new turn: reset per-turn keys and record the (masked) customer message."""
    raw = state["message"][:MAX_MESSAGE_CHARS]
    message, had_card = inspect.mask_card_numbers(raw)
    flags = []
    if had_card:
        flags.append("pii_card_number")
    if inspect.looks_like_injection(message):
        flags.append("prompt_injection")
    if len(state["message"]) > MAX_MESSAGE_CHARS:
        flags.append("truncated")
    turn = state.get("turn", 0) + 1
    order_ids = inspect.order_ids(message)
    focus = (
        {}
        if order_ids or not state.get("context_order_id")
        else {"focus_order_id": state.get("context_order_id")}
    )
    return {
        **focus,
        "message": message,
        "turn": turn,
        "transcript": [{"role": "customer", "content": message, "turn": turn}],
        "flags": flags,
        "entities": {
            "order_ids": order_ids,
            "amounts": inspect.amounts(message),
            "emails": inspect.emails(message),
        },
        "intents": [],
        "sources": [],
        "intent_questions": {},
        "retrieval": None,
        "gate": None,
        "actions": [],
        "answer": [],
        "grounding": None,
        "escalated": bool(state.get("handed_off")),
        "response": "",
        "confirmation": None,
    }
