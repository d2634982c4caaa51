"""Orders: which order an intent is about, its status, refunds and cancellations proposed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from graph.state import AnswerPart, IntentView, Source, TicketState
from nodes.action_parts import proposal_part
from nodes.workflows.articles import answer_from_articles
from nodes.workflows.common import Handler, asked_part
from supportgraph import text as text_tools
from supportgraph.db.models import ActionExecution
from supportgraph.knowledge.extract import words
from tools import actions as action_tools
from tools.context import ToolContext

# Intents whose handlers act on an order: guessed as a faint second intent, they act on an
# order the customer never named ("I received the wrong item" read 17% as a cancellation).
ORDER_HANDLED = frozenset({"order_status", "refund", "cancel_order"})
ACTIONABLE_STATUSES = {
    "refund": frozenset({"processing", "delivered", "partially_refunded"}),
    "cancel_order": frozenset({"processing"}),
    "account_update": frozenset({"processing"}),
    # "they still aren't here": a late delivery is about an order on its way
    "complaint": frozenset({"processing", "shipped"}),
}


def order_sources(state: TicketState) -> list[Source]:
    """The customer's orders among the turn's sources."""
    return [source for source in state["sources"] if source["kind"] == "order"]


def target_order(
    state: TicketState, view: IntentView | None = None, *, guess: bool = True
) -> Source | None:
    """The order an intent is about: named by id, then by product, then in focus, else newest.

    When guessing, the newest order the action could apply to comes first, and for a status
    question the newest in the status the message describes ("it says delivered");
    ``guess=False`` returns None instead.
    """
    orders = order_sources(state)
    if not orders:
        return None
    evidence = asked_part(state, view)
    by_id = {order["id"]: order for order in orders}
    for candidates in (text_tools.order_ids(evidence), state["entities"]["order_ids"]):
        named = [order_id for order_id in candidates if order_id in by_id]
        if named:
            return by_id[named[0]]
        if candidates:
            return None  # an order id that is not on this account: never guess another one
        asked = words(evidence)
        for order in orders:
            if asked & words(" ".join(order.get("facts", {}).get("items", []))):
                return order
        evidence = state["message"]
    focus = state.get("focus_order_id")
    if focus in by_id:
        return by_id[focus]
    if not guess:
        return None
    intent = view["intent"] if view else ""
    wanted = ACTIONABLE_STATUSES.get(intent) or (
        text_tools.statuses_described(evidence) if intent == "order_status" else frozenset()
    )
    actionable = [o for o in orders if o.get("facts", {}).get("status") in wanted]
    return actionable[0] if actionable else orders[0]


def missing_order_part(state: TicketState, intent: str) -> AnswerPart:
    """No order to act on: the named one is not on the account, or there are none."""
    mentioned = state["entities"]["order_ids"]
    kind = "order_not_found" if mentioned else "no_orders"
    return {"intent": intent, "kind": kind, "facts": {"order_ids": mentioned}, "source_ids": []}


def order_status(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    """The order's status, with the help centre's answer when the message describes a problem."""
    order = target_order(state, view)
    if order is None:
        return missing_order_part(state, view["intent"]), None
    if text_tools.statuses_described(asked_part(state, view)):
        # "It says delivered but I never got it": the order, then what to do about it.
        return order_with_article(ctx, state, view, order), None
    return order_part(order), None


def order_part(order: Source) -> AnswerPart:
    """The order's facts as an order-status part."""
    return {
        "intent": "order_status",
        "kind": "order_status",
        "facts": order.get("facts", {}),
        "source_ids": [order["id"]],
    }


def order_action(action: str) -> Handler:
    """A handler proposing ``action`` on the order an intent is about, through the tools."""

    def handler(
        ctx: ToolContext, state: TicketState, view: IntentView
    ) -> tuple[AnswerPart, ActionExecution | None]:
        if view["sub_intent"] == "refund_status":
            answered = refund_status(ctx, state, view)
            if answered is not None:
                return answered
        # "How do I start a return?" about no order in particular gets the procedure, not a
        # refund proposed on a guessed order.
        asked = asked_part(state, view)
        how_to = action == "process_refund" and text_tools.asks_how(asked)
        order = target_order(state, view, guess=not how_to)
        if order is None and how_to and not state["entities"]["order_ids"]:
            return answer_from_articles(ctx, state, view)
        if order is None:
            return missing_order_part(state, view["intent"]), None
        arguments: dict[str, Any] = {"order_id": order["id"]}
        amount = text_tools.requested_refund_amount(state["message"], state["entities"]["amounts"])
        if action == "process_refund" and amount is not None:
            arguments["amount"] = amount
        row = action_tools.propose(ctx, action, arguments)
        return proposal_part(view["intent"], row, order.get("facts", {}), [order["id"]]), row

    return handler


def refund_status(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None] | None:
    """Where a refund stands: the refunded order beside the policy on when refunds arrive.

    "How long until refunds show up?" gets the policy alone; "where is my refund?" also the
    customer's newest refunded order. None when a named order may still be refunded and the
    message does not ask after a refund of its own ("refund the balance of ORD-1401"): a
    refund may then be proposed for it.
    """
    asked = asked_part(state, view)
    named = bool(state["entities"]["order_ids"])
    own = text_tools.asks_about_own_refund(asked)
    order = target_order(state, view, guess=False)
    if order is None and not named and own:
        order = next((o for o in order_sources(state) if _refunded(o) > 0), None)
    if order is not None and _refunded(order) > 0 and (own or _refundable(order) == 0):
        return order_with_article(ctx, state, view, order), None
    if named:
        return None
    return answer_from_articles(ctx, state, view)


def order_with_article(
    ctx: ToolContext, state: TicketState, view: IntentView, order: Source
) -> AnswerPart:
    """The order's facts, then the help centre's answer to what was asked about it."""
    part, _ = answer_from_articles(ctx, state, view)
    if part["kind"] != "article":
        return {**order_part(order), "intent": view["intent"]}
    facts = {**part["facts"], "order": order.get("facts", {})}
    return {**part, "facts": facts, "source_ids": [order["id"], *part["source_ids"]]}


def _refunded(order: Source) -> Decimal:
    return Decimal(order.get("facts", {}).get("refunded_total") or "0")


def _refundable(order: Source) -> Decimal:
    return Decimal(order.get("facts", {}).get("refundable") or "0")
