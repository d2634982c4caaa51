"""The LLM resolver: a tool-calling model over the same guarded tools, in a bounded loop.

Used only when an LLM is configured. Read tools run freely; write tools only propose, so
the model can never execute anything, and what it proposes is checked by policy code and
recorded like any other proposal. Any failure returns None: the workflow resolver answers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from graph.state import AnswerPart, TicketState
from nodes.action_parts import proposal_part
from prompts import resolve as prompt
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus
from supportgraph.llm_guard import LlmGuard
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

# A reply that says an action was done ("I've refunded your order", "it has been cancelled").
# The resolver can only propose, so such a claim is true only when the ledger holds that
# action executed on this ticket; otherwise the reply is not shown (see ``claimed_actions``).
_DONE = (
    r"(?:refunded|cancell?ed|sent|issued|processed|updated|changed|reset|emailed|credited"
    r"|submitted|initiated|approved|completed)"
)
DONE_CLAIM = re.compile(
    rf"\b(?:(?:i|we)(?:'ve|\u2019ve|\s+have|\s+just|\s+already|\s+now)*\s+"
    rf"(?:gone\s+ahead\s+and\s+)?{_DONE}"
    rf"|(?:has|have|had|was|were|'s)\s+(?:now\s+|already\s+|just\s+)?been\s+{_DONE}"
    rf"|(?:is|are)\s+(?:now\s+)?(?:refunded|cancell?ed)"
    rf"|(?:refund|cancellation|reset\s+link|address\s+change)\s+(?:is|was)\s+"
    rf"(?:complete|done|on\s+its\s+way))\b",
    re.IGNORECASE,
)
CONDITIONAL = re.compile(r"\b(?:if|once|when|after|until|unless|before)\b", re.IGNORECASE)
CLAIM_WORDS = {
    "process_refund": ("refund", "credit", "money back"),
    "cancel_order": ("cancel",),
    "send_password_reset": ("reset", "password"),
    "update_shipping_address": ("address",),
}


@dataclass(frozen=True)
class LlmResolution:
    """What the model's turn produced: answer parts and the actions it proposed."""

    answer: list[AnswerPart]
    proposals: list[ActionExecution]
    model_calls: int
    tool_outputs: list[str]
    # what the reply says was done that the ledger does not show executed on this ticket
    unbacked_claims: list[str] = field(default_factory=list)


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
    guard: LlmGuard | None = None,
) -> LlmResolution:
    """Let the model read and propose, for at most ``max_calls`` model calls.

    With a ``guard`` every call keeps to the turn's deadline, retries and circuit breaker.

    Raises:
        RuntimeError: the model produced neither an answer nor a proposal.
        LlmUnavailable: the breaker is open or the turn's LLM budget is spent.

    """
    turn = build_tools(ctx)
    bound = model.bind_tools(turn.tools)
    messages = prompt_messages(ctx, state)
    text, calls = "", 0
    try:
        while calls < max_calls:
            reply = guard.invoke(bound, messages) if guard else bound.invoke(messages)
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
    return LlmResolution(
        _answer(ctx, state, text, turn),
        turn.proposals,
        calls,
        turn.outputs,
        unbacked_claims=claimed_actions(ctx, text),
    )


def try_resolve_with_llm(
    ctx: ToolContext, state: TicketState, model: BaseChatModel, guard: LlmGuard | None = None
) -> LlmResolution | None:
    """The model's resolution, or None after any failure (timeouts, bad output, errors)."""
    try:
        return resolve_with_llm(ctx, state, model, guard=guard)
    except Exception as exc:
        log.warning("LLM resolver failed, falling back to the workflow resolver: %s", exc)
        return None


def done_claims(text: str) -> list[tuple[str, set[str]]]:
    """The sentences of ``text`` saying an action was done, each with the actions it names.

    "I can refund it" is an offer and "once it is cancelled ..." a condition: neither is one.
    """
    claims: list[tuple[str, set[str]]] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        match = DONE_CLAIM.search(sentence)
        if match is None or CONDITIONAL.search(sentence[: match.start()]):
            continue
        lowered = sentence.lower()
        actions = {a for a, words in CLAIM_WORDS.items() if any(w in lowered for w in words)}
        if actions:
            claims.append((sentence.strip(), actions))
    return claims


def claimed_actions(ctx: ToolContext, text: str) -> list[str]:
    """Sentences of ``text`` saying an action was done that this ticket's ledger did not do.

    "I've refunded ORD-790" is backed only by an executed ``process_refund`` on the ticket.
    """
    claims = done_claims(text)
    if not claims:
        return []
    done = ledger.executed_actions(ctx.engine, ticket_id=ctx.ticket_id, customer_id=ctx.customer_id)
    return [sentence for sentence, actions in claims if not actions <= done]


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
