"""Confirm: outside the HTTP service (LangGraph Studio), a proposal pauses the run.

The run is resumed with the customer's answer (``Command(resume="yes")``). A node re-runs
from its start on resume, so nothing before ``interrupt()`` may have an effect; execution
itself is exactly-once in the ledger, so even a re-run after it cannot act twice.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graph.context import AgentContext, services_of, tool_context
from graph.state import ActionView, AnswerPart, TicketState
from nodes.action_parts import answer_proposals
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionStatus
from supportgraph.intents.confirmation import detect_confirmation
from supportgraph.replies import render

MISMATCH = "the confirmation doesn't match the offer, so nothing was changed."


def read_reply(value: Any) -> tuple[str, str | None]:
    """The answer ('confirm' or 'decline') and the arguments hash it names, if any.

    Accepts a bool, a text reply ("yes please") or ``{"confirmed": bool, "arguments_hash": str}``.
    Anything unclear is a decline: nothing runs without a clear yes.
    """
    if isinstance(value, dict):
        confirmed, named = value.get("confirmed") is True, value.get("arguments_hash")
        return ("confirm" if confirmed else "decline"), (str(named) if named else None)
    if isinstance(value, bool):
        return ("confirm" if value else "decline"), None
    return detect_confirmation(str(value)) or "decline", None


def confirm(state: TicketState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Ask for a yes or a no, then execute or decline the open proposals."""
    proposals = state["open_proposals"]
    offer = render(state["answer"])
    value = interrupt({"question": offer, "proposals": proposals})
    reply, named_hash = read_reply(value)
    services = services_of(runtime)
    ctx = tool_context(services, customer_id=state["customer_id"], ticket_id=state["ticket_id"])
    transcript = [
        {"role": "ai", "content": offer, "turn": state["turn"]},
        {"role": "customer", "content": str(value), "turn": state["turn"]},
    ]
    if named_hash is not None and not _all_match(proposals, named_hash):
        ledger.set_status(ctx.engine, [p["action_id"] for p in proposals], ActionStatus.DECLINED)
        refused: AnswerPart = {
            "intent": "confirmation",
            "kind": "action_denied",
            "facts": {"reason": MISMATCH},
            "source_ids": [],
        }
        return {"answer": [refused], "actions": [], "open_proposals": [], "transcript": transcript}
    return {**answer_proposals(ctx, reply, proposals), "transcript": transcript}


def _all_match(proposals: list[ActionView], named_hash: str) -> bool:
    return all(p["arguments_hash"] == named_hash for p in proposals)
