"""How actions appear in the conversation, and how a confirmed or declined offer is answered.

Shared by the workflow resolver, the LLM resolver and the confirmation interrupt.
"""

from __future__ import annotations

from typing import Any

from graph.state import ActionView, AnswerPart
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus
from tools import actions as action_tools
from tools.context import ToolContext

SETTLED = frozenset(
    {ActionStatus.EXECUTED, ActionStatus.DENIED, ActionStatus.FAILED, ActionStatus.PENDING}
)


def action_view(row: ActionExecution) -> ActionView:
    """How the conversation sees an action row."""
    return {
        "action_id": row.id,
        "action": row.action,
        "arguments": row.arguments,
        "arguments_hash": row.arguments_hash,
        "status": row.status.value,
        "allowed": row.policy_allowed,
        "requires_human": row.requires_human,
        "rule_id": row.policy_rule,
        "reason": row.policy_reason,
        "result": row.result,
    }


def proposal_part(
    intent: str, row: ActionExecution, facts: dict[str, Any], source_ids: list[str]
) -> AnswerPart:
    """An offer, a refusal or a hand-over, with the policy's own reason."""
    if row.requires_human:
        kind = "needs_human"
    elif row.status == ActionStatus.PROPOSED:
        kind = "offer"
    else:
        kind = "denied"
    policy = (row.result or {}).get("policy", {})
    return {
        "intent": intent,
        "kind": kind,
        "facts": {
            "action": row.action,
            "order": facts,
            "amount": policy.get("amount"),
            "cancels_order": policy.get("details", {}).get("cancels_order", False),
            "reason": row.policy_reason,
            "rule_id": row.policy_rule,
        },
        "source_ids": source_ids,
    }


def answer_proposals(ctx: ToolContext, reply: str, proposals: list[ActionView]) -> dict[str, Any]:
    """Execute the open proposals on 'confirm' (each exactly once), or decline them."""
    if reply != "confirm":
        ledger.set_status(ctx.engine, [p["action_id"] for p in proposals], ActionStatus.DECLINED)
        part: AnswerPart = {
            "intent": "confirmation",
            "kind": "declined",
            "facts": {},
            "source_ids": [],
        }
        return {"answer": [part], "actions": [], "open_proposals": []}
    actions: list[ActionView] = []
    answer: list[AnswerPart] = []
    for proposal in proposals:
        row = ledger.get_action(ctx.engine, proposal["action_id"])
        if row is None:
            continue
        outcome = action_tools.execute(ctx, row)
        actions.append(action_view(outcome))
        answer.append(outcome_part(outcome))
    return {"answer": answer, "actions": actions, "open_proposals": []}


def outcome_part(outcome: ActionExecution) -> AnswerPart:
    """What the customer is told once a confirmed action has run (or could not)."""
    kind = f"action_{outcome.status.value}"
    reason = outcome.policy_reason
    if outcome.requires_human:
        kind = "needs_human"
    elif outcome.status not in SETTLED:  # declined or superseded meanwhile
        kind, reason = "action_denied", "that offer is no longer open."
    order_id = outcome.arguments.get("order_id")
    return {
        "intent": "confirmation",
        "kind": kind,
        "facts": {
            "action": outcome.action,
            "result": outcome.result or {},
            "error": outcome.error,
            "reason": reason,
        },
        "source_ids": [order_id] if order_id else [],
    }
