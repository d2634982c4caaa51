"""Resolve: reads facts, proposes allowed actions, executes confirmed ones.

Every read and write goes through ``tools``; every decision comes from ``policies``.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.runtime import Runtime

from graph.context import AgentContext, services_of, tool_context
from graph.state import AnswerPart, IntentView, TicketState
from nodes.action_parts import action_view, answer_proposals
from nodes.llm_resolve import LlmResolution, try_resolve_with_llm
from nodes.workflows import HANDLERS
from nodes.workflows.articles import answer_from_articles
from nodes.workflows.common import SUSPECTED
from nodes.workflows.orders import ORDER_HANDLED, order_sources
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus
from supportgraph.knowledge.grounding import unsupported_facts
from tools.context import ToolContext

FILLER_KINDS = frozenset({"clarify", "no_answer"})


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
    resolution = (
        try_resolve_with_llm(ctx, state, llm, services.llm_guard) if llm is not None else None
    )
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
    order_ids = {o["id"] for o in order_sources(state)}
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
    """Facts in the model's own words that no retrieved text, account fact or tool result has.

    A sentence saying an action was done that the ledger did not execute counts as one.
    """
    evidence = [source["text"] for source in state["sources"]]
    evidence += [json.dumps(source.get("facts", {})) for source in state["sources"]]
    evidence += resolution.tool_outputs
    evidence.append(state["message"])
    return [
        fact
        for part in resolution.answer
        if part["kind"] == "llm_reply"
        for fact in unsupported_facts(str(part["facts"]["text"]), evidence)
    ] + list(resolution.unbacked_claims)


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
        handler = HANDLERS.get(view["intent"], answer_from_articles)
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
