"""Resolve: reads facts, proposes allowed actions, executes confirmed ones.

Every read and write goes through ``tools``; every decision comes from ``policies``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from langgraph.runtime import Runtime

from graph.context import AgentContext, services_of, tool_context
from graph.state import AnswerPart, IntentView, Source, TicketState
from nodes.action_parts import action_view, answer_proposals, proposal_part
from nodes.llm_resolve import LlmResolution, try_resolve_with_llm
from supportgraph import text as text_tools
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus
from supportgraph.intents.taxonomy import SMALL_TALK
from supportgraph.knowledge.answer import extractive_answer
from supportgraph.knowledge.extract import words
from supportgraph.knowledge.grounding import unsupported_facts
from tools import actions as action_tools
from tools.context import ToolContext

FILLER_KINDS = frozenset({"clarify", "no_answer"})
# Below this a second intent from the embedding model is a guess, not a finding.
SUSPECTED = 0.3
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


def resolve(state: TicketState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Write this turn's answer parts, the actions touched, and the proposals left open.

    A reply to open proposals executes or declines them. Otherwise the LLM resolver answers
    when an LLM is configured, and the workflow resolver when not (or when the LLM fails).
    """
    services = services_of(runtime)
    ctx = tool_context(services, customer_id=state["customer_id"], ticket_id=state["ticket_id"])
    open_proposals = state.get("open_proposals", [])
    if state.get("confirmation") and open_proposals:
        return answer_proposals(ctx, state["confirmation"] or "", open_proposals)
    llm = services.llm
    resolution = try_resolve_with_llm(ctx, state, llm) if llm is not None else None
    grounding: dict[str, Any] | None = None
    if resolution is not None:
        unsupported = ungrounded_facts(resolution, state)
        grounding = {"checked": True, "unsupported": unsupported, "replaced": bool(unsupported)}
        if unsupported:
            # The model stated something no source or tool result says: answer without it.
            ledger.set_status(
                ctx.engine, [row.id for row in resolution.proposals], ActionStatus.DECLINED
            )
            resolution = None
    if resolution is not None:
        answer, rows = resolution.answer, resolution.proposals
    else:
        answer, rows = _resolve_by_workflow(ctx, state)
    actions = [action_view(row) for row in rows]
    substantive = [part for part in answer if part["kind"] not in FILLER_KINDS]
    answer = substantive or answer[:1]
    update: dict[str, Any] = {"answer": answer, "actions": actions, "grounding": grounding}
    order_ids = {o["id"] for o in _orders(state)}
    focus = [i for part in answer for i in part["source_ids"] if i in order_ids]
    if focus:
        update["focus_order_id"] = focus[-1]
    proposed = [a for a in actions if a["status"] == "proposed" and not a["requires_human"]]
    if not proposed:
        return update
    superseded = [p["action_id"] for p in open_proposals]
    ledger.set_status(ctx.engine, superseded, ActionStatus.DECLINED)
    return {**update, "open_proposals": proposed}


def ungrounded_facts(resolution: LlmResolution, state: TicketState) -> list[str]:
    """Facts in the model's own words that no retrieved text, account fact or tool result has."""
    evidence = [source["text"] for source in state["sources"]]
    evidence += [json.dumps(source.get("facts", {})) for source in state["sources"]]
    evidence += resolution.tool_outputs
    evidence.append(state["message"])
    return [
        fact
        for part in resolution.answer
        if part["kind"] == "llm_reply"
        for fact in unsupported_facts(str(part["facts"]["text"]), evidence)
    ]


def _resolve_by_workflow(
    ctx: ToolContext, state: TicketState
) -> tuple[list[AnswerPart], list[ActionExecution]]:
    """One handler per intent: grounded answer parts, and proposals made through the tools."""
    rows: list[ActionExecution] = []
    answer: list[AnswerPart] = []
    handled: set[str] = set()
    for index, view in enumerate(state["intents"]):
        if view["intent"] in handled or _guessed_order_intent(state, view, index):
            continue
        handled.add(view["intent"])
        handler = HANDLERS.get(view["intent"], _answer_from_articles)
        part, row = handler(ctx, state, view)
        answer.append(part)
        if row is not None:
            rows.append(row)
    return answer, rows


def is_faint(view: IntentView, index: int) -> bool:
    """A second intent the embedding model gives under ``SUSPECTED``: a guess."""
    return index > 0 and view["classifier_used"] == "embedding" and view["confidence"] < SUSPECTED


def _guessed_order_intent(state: TicketState, view: IntentView, index: int) -> bool:
    """A faint second intent about an order the message does not name by its id."""
    return (
        is_faint(view, index)
        and view["intent"] in ORDER_HANDLED
        and not state["entities"]["order_ids"]
    )


def _asked(state: TicketState, view: IntentView | None) -> str:
    """The part of the message an intent was found in, else the whole message."""
    return (view.get("evidence") if view else None) or state["message"]


Handler = Callable[
    [ToolContext, TicketState, IntentView], tuple[AnswerPart, ActionExecution | None]
]


def _orders(state: TicketState) -> list[Source]:
    return [source for source in state["sources"] if source["kind"] == "order"]


def _target_order(
    state: TicketState, view: IntentView | None = None, *, guess: bool = True
) -> Source | None:
    """The order an intent is about: named by id, then by product, then in focus, else newest.

    When guessing, the newest order the action could apply to comes first, and for a status
    question the newest in the status the message describes ("it says delivered");
    ``guess=False`` returns None instead.
    """
    orders = _orders(state)
    if not orders:
        return None
    evidence = _asked(state, view)
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


def _missing_order_part(state: TicketState, intent: str) -> AnswerPart:
    mentioned = state["entities"]["order_ids"]
    kind = "order_not_found" if mentioned else "no_orders"
    return {"intent": intent, "kind": kind, "facts": {"order_ids": mentioned}, "source_ids": []}


def _order_status(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    order = _target_order(state, view)
    if order is None:
        return _missing_order_part(state, view["intent"]), None
    if text_tools.statuses_described(_asked(state, view)):
        # "It says delivered but I never got it": the order, then what to do about it.
        return _order_with_article(ctx, state, view, order), None
    return _order_part(order), None


def _order_part(order: Source) -> AnswerPart:
    return {
        "intent": "order_status",
        "kind": "order_status",
        "facts": order.get("facts", {}),
        "source_ids": [order["id"]],
    }


def _order_action(action: str) -> Handler:
    def handler(
        ctx: ToolContext, state: TicketState, view: IntentView
    ) -> tuple[AnswerPart, ActionExecution | None]:
        if view["sub_intent"] == "refund_status":
            answered = _refund_status(ctx, state, view)
            if answered is not None:
                return answered
        # "How do I start a return?" about no order in particular gets the procedure, not a
        # refund proposed on a guessed order.
        asked = _asked(state, view)
        how_to = action == "process_refund" and text_tools.asks_how(asked)
        order = _target_order(state, view, guess=not how_to)
        if order is None and how_to and not state["entities"]["order_ids"]:
            return _answer_from_articles(ctx, state, view)
        if order is None:
            return _missing_order_part(state, view["intent"]), None
        arguments: dict[str, Any] = {"order_id": order["id"]}
        amount = text_tools.requested_refund_amount(state["message"], state["entities"]["amounts"])
        if action == "process_refund" and amount is not None:
            arguments["amount"] = amount
        row = action_tools.propose(ctx, action, arguments)
        return proposal_part(view["intent"], row, order.get("facts", {}), [order["id"]]), row

    return handler


def _refund_status(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None] | None:
    """Where a refund stands: the refunded order beside the policy on when refunds arrive.

    "How long until refunds show up?" gets the policy alone; "where is my refund?" also the
    customer's newest refunded order. None when a named order may still be refunded and the
    message does not ask after a refund of its own ("refund the balance of ORD-1401"): a
    refund may then be proposed for it.
    """
    asked = _asked(state, view)
    named = bool(state["entities"]["order_ids"])
    own = text_tools.asks_about_own_refund(asked)
    order = _target_order(state, view, guess=False)
    if order is None and not named and own:
        order = next((o for o in _orders(state) if _refunded(o) > 0), None)
    if order is not None and _refunded(order) > 0 and (own or _refundable(order) == 0):
        return _order_with_article(ctx, state, view, order), None
    if named:
        return None
    return _answer_from_articles(ctx, state, view)


def _order_with_article(
    ctx: ToolContext, state: TicketState, view: IntentView, order: Source
) -> AnswerPart:
    """The order's facts, then the help centre's answer to what was asked about it."""
    part, _ = _answer_from_articles(ctx, state, view)
    if part["kind"] != "article":
        return {**_order_part(order), "intent": view["intent"]}
    facts = {**part["facts"], "order": order.get("facts", {})}
    return {**part, "facts": facts, "source_ids": [order["id"], *part["source_ids"]]}


def _refunded(order: Source) -> Decimal:
    return Decimal(order.get("facts", {}).get("refunded_total") or "0")


def _refundable(order: Source) -> Decimal:
    return Decimal(order.get("facts", {}).get("refundable") or "0")


def _password_reset(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    has_access = view["sub_intent"] != "account_recovery"
    row = action_tools.propose(ctx, "send_password_reset", {"has_email_access": has_access})
    part = proposal_part("password_reset", row, {}, [])
    if part["kind"] == "offer" and text_tools.link_trouble(_asked(state, view)):
        # "The link says it expired": why, from the help centre, before the fresh link.
        article, _ = _answer_from_articles(ctx, state, view)
        if article["kind"] == "article":
            explained = {**part["facts"], "explained_by": article["facts"]}
            return {**part, "facts": explained, "source_ids": article["source_ids"]}, row
    return part, row


def _account_update(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    if view["sub_intent"] != "shipping_address":
        return _answer_from_articles(ctx, state, view)
    # "How do I update my billing address?" about no order in particular gets the procedure.
    how_to = text_tools.asks_how(_asked(state, view))
    order = _target_order(state, view, guess=not how_to)
    if order is None and how_to and not state["entities"]["order_ids"]:
        return _answer_from_articles(ctx, state, view)
    if order is None:
        return _missing_order_part(state, view["intent"]), None
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


def _answer_from_articles(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    question, candidates = _article_candidates(state, view["intent"])
    answer = extractive_answer(question, candidates, embedder=ctx.embedder)
    if answer is None:
        kind = "clarify" if view["intent"] == "unknown" else "no_answer"
        return {"intent": view["intent"], "kind": kind, "facts": {}, "source_ids": []}, None
    part: AnswerPart = {
        "intent": view["intent"],
        "kind": "article",
        "facts": {"sentences": answer.sentences, "title": answer.title},
        "source_ids": [answer.source_id],
    }
    return part, None


def _article_candidates(
    state: TicketState, intent: str
) -> tuple[str, list[tuple[str, str, str, float]]]:
    """The question an intent asks and its (id, title, text, score) articles, best first.

    In a message asking several things, an intent answers its own part of the message from
    the articles found for that part; otherwise the message from the turn's articles.
    """
    articles = {s["id"]: s for s in state["sources"] if s["kind"] in ("article", "resolution")}
    own = state.get("intent_questions", {}).get(intent)
    question = state["message"] if own is None else own["question"]
    ranked = (
        [(s["id"], s["score"]) for s in articles.values()]
        if own is None
        else [(hit["id"], hit["score"]) for hit in own["hits"] if hit["id"] in articles]
    )
    return question, [(i, articles[i]["title"], articles[i]["text"], score) for i, score in ranked]


def _unknown(
    ctx: ToolContext, state: TicketState, view: IntentView
) -> tuple[AnswerPart, ActionExecution | None]:
    # "hi there" and "ok thanks" get a greeting and a goodbye, not "I'm not sure I understood".
    kind = view["sub_intent"] if view["sub_intent"] in SMALL_TALK else "clarify"
    return {"intent": "unknown", "kind": kind, "facts": {}, "source_ids": []}, None


def _acknowledge(kind: str) -> Handler:
    def handler(
        ctx: ToolContext, state: TicketState, view: IntentView
    ) -> tuple[AnswerPart, ActionExecution | None]:
        return {"intent": view["intent"], "kind": kind, "facts": {}, "source_ids": []}, None

    return handler


# Complaints about what arrived (damaged, defective, wrong): the help centre says what happens
# next. A late delivery's remedy is in its order, which the complaint names no better.
COMPLAINTS_WITH_A_REMEDY = frozenset({"product"})


def _complaint(
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
        order = _target_order(state, view, guess=view["confidence"] >= SUSPECTED)
        if order is not None:
            facts = {"order": order.get("facts", {})}
            return {**apology, "facts": facts, "source_ids": [order["id"]]}, None
    if view["sub_intent"] not in COMPLAINTS_WITH_A_REMEDY:
        return apology, None
    part, _ = _answer_from_articles(ctx, state, view)
    if part["kind"] != "article":
        return apology, None
    return {**part, "facts": {**part["facts"], "apology": True}}, None


# Handlers that never answer from articles: retrieve makes no search of their own for them.
NEVER_FROM_ARTICLES = frozenset({"cancel_order", "human_agent", "unknown"})


def may_answer_from_articles(view: IntentView, asked: str) -> bool:
    """Whether an intent's handler may answer ``asked`` from articles.

    A refund does only when asked about, not asked for (see ``_order_action``): "how long until
    my refund shows up?", "how do I start a return?", "do you refund the difference?". An
    order's status does when the message describes a problem with it ("it says delivered"), a
    password reset when the link is in trouble ("it expired"), a complaint about an item.
    """
    if view["intent"] in NEVER_FROM_ARTICLES:
        return False
    if view["intent"] == "order_status":
        return bool(text_tools.statuses_described(asked))
    if view["intent"] == "complaint":
        return view["sub_intent"] in COMPLAINTS_WITH_A_REMEDY
    if view["intent"] == "password_reset":
        return text_tools.link_trouble(asked)
    return view["intent"] != "refund" or (
        view["sub_intent"] == "refund_status" or text_tools.asks_how(asked)
    )


HANDLERS: dict[str, Handler] = {
    "order_status": _order_status,
    "refund": _order_action("process_refund"),
    "cancel_order": _order_action("cancel_order"),
    "password_reset": _password_reset,
    "account_update": _account_update,
    "human_agent": _acknowledge("handoff_requested"),
    "complaint": _complaint,
    "unknown": _unknown,
}
