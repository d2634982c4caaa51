"""Every policy decision a tool makes is recorded, allowed or not, with its rule and inputs."""

from __future__ import annotations

from typing import Any

from policies.decision import PolicyDecision
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus
from tools.context import ToolContext


def record_decision(
    ctx: ToolContext, action: str, arguments: dict[str, Any], decision: PolicyDecision
) -> ActionExecution:
    """Store a decision as an action row: ``proposed`` when allowed, else ``denied``."""
    return ledger.record_action(
        ctx.engine,
        ActionExecution(
            ticket_id=ctx.ticket_id,
            customer_id=ctx.customer_id,
            action=action,
            arguments=arguments,
            arguments_hash=ledger.arguments_hash(action, ctx.customer_id, arguments),
            status=ActionStatus.PROPOSED if decision.allowed else ActionStatus.DENIED,
            policy_rule=decision.rule_id,
            policy_allowed=decision.allowed,
            policy_reason=decision.reason,
            requires_human=decision.requires_human,
            result={"policy": decision.as_record()},
        ),
    )
