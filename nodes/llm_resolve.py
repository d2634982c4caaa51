"""The LLM resolver: a tool-calling model over the same guarded tools, in a bounded loop.

Used only when an LLM is configured. Read tools run freely; write tools only propose, so
the model can never execute anything, and what it proposes is checked by policy code and
recorded like any other proposal. Any failure returns None: the workflow resolver answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from graph.state import AnswerPart, TicketState
from nodes.action_parts import proposal_part
from prompts import resolve as prompt
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus
from tools.account import lookup_order
from tools.context import ToolContext
from tools.llm_tools import TurnTools, build_tools

log = logging.getLogger(__name__)

MAX_MODEL_CALLS = 4
HISTORY_LINES = 6
ACTION_INTENTS = {
    "process_refund": "refund",
    "cancel_order": "cancel_order",
    "send_password_reset": "password_reset",
    "update_shipping_address": "account_update",
}


@dataclass(frozen=True)
class LlmResolution:
    """What the model's turn produced: answer parts and the actions it proposed."""

    answer: list[AnswerPart]
    proposals: list[ActionExecution]
    model_calls: int
    tool_outputs: list[str]


def prompt_messages(ctx: ToolContext, state: TicketState) -> list[BaseMessage]:
    """The system prompt, and the turn's articles, history and message delimited as data."""
    articles = "\n".join(
        prompt.ARTICLE.format(
            id=prompt.as_data(s["id"]),
            title=prompt.as_data(s["title"]),
            text=prompt.as_data(s["text"]),
        )
        for s in state["sources"]
        if s["kind"] != "order"
    )
    history = state.get("transcript", [])[:-1][-HISTORY_LINES:]
    conversation = "\n".join(
        prompt.LINE.format(role=m["role"], content=prompt.as_data(m["content"])) for m in history
    )
    refunds = ctx.policy.refunds
    system = prompt.SYSTEM.format(
        window_days=refunds.window_days, auto_approve_ceiling=f"{refunds.auto_approve_ceiling:,.2f}"
    )
    user = prompt.USER.format(
        articles=articles, conversation=conversation, message=prompt.as_data(state["message"])
    )
    return [SystemMessage(system), HumanMessage(user)]


def resolve_with_llm(
    ctx: ToolContext,
    state: TicketState,
    model: BaseChatModel,
    *,
    max_calls: int = MAX_MODEL_CALLS,
) -> LlmResolution:
    """Let the model read and propose, for at most ``max_calls`` model calls.

    Raises:
        RuntimeError: the model produced neither an answer nor a proposal.

    """
    turn = build_tools(ctx)
    bound = model.bind_tools(turn.tools)
    messages = prompt_messages(ctx, state)
    text, calls = "", 0
    try:
        while calls < max_calls:
            reply = bound.invoke(messages)
            calls += 1
            messages.append(reply)
            if not reply.tool_calls:
                text = reply.text.strip()
                break
            messages.extend(turn.run(call) for call in reply.tool_calls)
        if not text and not turn.proposals:
            raise RuntimeError(f"no answer after {calls} model call(s)")
    except Exception:
        # the workflow resolver will answer this turn: its offers replace these
        ledger.set_status(ctx.engine, [row.id for row in turn.proposals], ActionStatus.DECLINED)
        raise
    return LlmResolution(_answer(ctx, state, text, turn), turn.proposals, calls, turn.outputs)


def try_resolve_with_llm(
    ctx: ToolContext, state: TicketState, model: BaseChatModel
) -> LlmResolution | None:
    """The model's resolution, or None after any failure (timeouts, bad output, errors)."""
    try:
        return resolve_with_llm(ctx, state, model)
    except Exception as exc:
        log.warning("LLM resolver failed, falling back to the workflow resolver: %s", exc)
        return None


def _answer(ctx: ToolContext, state: TicketState, text: str, turn: TurnTools) -> list[AnswerPart]:
    intent = state["intents"][0]["intent"] if state["intents"] else "unknown"
    parts: list[AnswerPart] = []
    if text:
        parts.append(
            {
                "intent": intent,
                "kind": "llm_reply",
                "facts": {"text": text, "prompt_version": prompt.VERSION},
                "source_ids": list(dict.fromkeys(turn.orders_read)),
            }
        )
    for row in turn.proposals:
        order_id = str(row.arguments.get("order_id") or "")
        facts = (lookup_order(ctx, order_id) if order_id and row.policy_allowed else None) or {}
        sources = [order_id] if facts else []
        parts.append(proposal_part(ACTION_INTENTS[row.action], row, facts, sources))
    return parts
