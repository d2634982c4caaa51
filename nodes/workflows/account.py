"""The account: password resets and changes to an order's shipping address."""

from __future__ import annotations

from graph.state import AnswerPart, IntentView, TicketState
from nodes.action_parts import proposal_part
from nodes.workflows.articles import answer_from_articles
from nodes.workflows.common import asked_part
from nodes.workflows.orders import missing_order_part, target_order
from supportgraph import text as text_tools
from supportgraph.db.models import ActionExecution
from tools import actions as action_tools
from tools.context import ToolContext


def password_reset(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    """A reset link proposed, explained by the help centre when the last link failed."""
    has_access = view["sub_intent"] != "account_recovery"
    row = action_tools.propose(ctx, "send_password_reset", {"has_email_access": has_access})
    part = proposal_part("password_reset", row, {}, [])
    if part["kind"] == "offer" and text_tools.link_trouble(asked_part(state, view)):
        # "The link says it expired": why, from the help centre, before the fresh link.
        article, _ = answer_from_articles(ctx, state, view)
        if article["kind"] == "article":
            explained = {**part["facts"], "explained_by": article["facts"]}
            return {**part, "facts": explained, "source_ids": article["source_ids"]}, row
    return part, row


def account_update(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    """A new shipping address proposed for an order, or the help centre's procedure."""
    if view["sub_intent"] != "shipping_address":
        return answer_from_articles(ctx, state, view)
    # "How do I update my billing address?" about no order in particular gets the procedure.
    how_to = text_tools.asks_how(asked_part(state, view))
    order = target_order(state, view, guess=not how_to)
    if order is None and how_to and not state["entities"]["order_ids"]:
        return answer_from_articles(ctx, state, view)
    if order is None:
        return missing_order_part(state, view["intent"]), None
    address = text_tools.street_address(state["message"])
    if address is None:
        part: AnswerPart = {
            "intent": "account_update",
            "kind": "ask_address",
            "facts": {"order": order.get("facts", {})},
            "source_ids": [order["id"]],
        }
        return part, None
    arguments = {"order_id": order["id"], "address": address}
    row = action_tools.propose(ctx, "update_shipping_address", arguments)
    return proposal_part("account_update", row, order.get("facts", {}), [order["id"]]), row
