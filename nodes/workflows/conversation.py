"""The conversation itself: small talk, acknowledgements and complaints."""

from __future__ import annotations

from graph.state import AnswerPart, IntentView, TicketState
from nodes.workflows.articles import COMPLAINTS_WITH_A_REMEDY, answer_from_articles
from nodes.workflows.common import SUSPECTED, Handler
from nodes.workflows.orders import target_order
from supportgraph.db.models import ActionExecution
from supportgraph.intents.taxonomy import SMALL_TALK
from tools.context import ToolContext


def unknown(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    """A greeting or goodbye for small talk; otherwise a request to say more."""
    # "hi there" and "ok thanks" get a greeting and a goodbye, not "I'm not sure I understood".
    kind = view["sub_intent"] if view["sub_intent"] in SMALL_TALK else "clarify"
    return {"intent": "unknown", "kind": kind, "facts": {}, "source_ids": []}, None


def acknowledge(kind: str) -> Handler:
    """A handler that answers with a fixed kind of part (no facts, no action)."""

    def handler(
        ctx: ToolContext, state: TicketState, view: IntentView
    ) -> tuple[AnswerPart, ActionExecution | None]:
        return {"intent": view["intent"], "kind": kind, "facts": {}, "source_ids": []}, None

    return handler


def complaint(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    """An apology, with the order for a late delivery and the remedy for a damaged item."""
    apology: AnswerPart = {
        "intent": "complaint",
        "kind": "complaint",
        "facts": {},
        "source_ids": [],
    }
    if view["sub_intent"] == "delivery":
        order = target_order(state, view, guess=view["confidence"] >= SUSPECTED)
        if order is not None:
            facts = {"order": order.get("facts", {})}
            return {**apology, "facts": facts, "source_ids": [order["id"]]}, None
    if view["sub_intent"] not in COMPLAINTS_WITH_A_REMEDY:
        return apology, None
    part, _ = answer_from_articles(ctx, state, view)
    if part["kind"] != "article":
        return apology, None
    return {**part, "facts": {**part["facts"], "apology": True}}, None
