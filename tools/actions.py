"""Write actions in two phases: propose (policy check, recorded) and execute (claimed, recorded).

A write is a thin adapter: load → ``policies`` decision → record → perform → record outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from policies.account import check_password_reset
from policies.decision import PolicyDecision, deny
from policies.orders import check_address_change, check_cancel, check_refund
from supportgraph.commerce.backend import BackendError
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus
from tools.account import order_facts
from tools.context import ToolContext

ACTIONS = ("process_refund", "cancel_order", "send_password_reset", "update_shipping_address")


class ActionError(ValueError):
    """The request names no known action or carries unusable arguments."""


@dataclass(frozen=True)
class ActionSpec:
    """How one action is checked and performed."""

    check: Callable[[ToolContext, dict[str, Any]], PolicyDecision]
    perform: Callable[[ToolContext, dict[str, Any], str], dict[str, Any]]
    required: tuple[str, ...]


def _amount(arguments: dict[str, Any]) -> Decimal | None:
    raw = arguments.get("amount")
    if raw in (None, ""):
        return None
    try:
        return Decimal(str(raw)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise ActionError(f"amount {raw!r} is not a number") from exc


def _check_refund(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    now = ctx.clock()
    return check_refund(
        ctx.backend.get_order(args["order_id"]),
        customer_id=ctx.customer_id,
        amount=_amount(args),
        refunded_last_24h=ctx.backend.refunded_since(ctx.customer_id, now - timedelta(days=1)),
        now=now,
        config=ctx.policy,
    )


def _perform_refund(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    decision = _check_refund(ctx, args)
    assert decision.amount is not None
    order = ctx.backend.refund(args["order_id"], decision.amount, action_id=action_id)
    return {"refunded": f"{decision.amount:.2f}", "order": order_facts(order)}


def _check_cancel(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    order = ctx.backend.get_order(args["order_id"])
    return check_cancel(order, customer_id=ctx.customer_id, config=ctx.policy)


def _perform_cancel(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    order = ctx.backend.cancel_order(args["order_id"], action_id=action_id)
    return {"order": order_facts(order)}


def _check_reset(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    customer = ctx.backend.get_customer(ctx.customer_id)
    return check_password_reset(customer, has_email_access=bool(args.get("has_email_access", True)))


def _perform_reset(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    sent_to = ctx.backend.send_password_reset(ctx.customer_id, action_id=action_id)
    return {"sent_to": sent_to}


def _check_address(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    order = ctx.backend.get_order(args["order_id"])
    return check_address_change(
        order, customer_id=ctx.customer_id, new_address=args["address"], config=ctx.policy
    )


def _perform_address(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    order = ctx.backend.update_shipping_address(
        args["order_id"], args["address"], action_id=action_id
    )
    return {"order": order_facts(order), "address": args["address"]}


SPECS: dict[str, ActionSpec] = {
    "process_refund": ActionSpec(_check_refund, _perform_refund, ("order_id",)),
    "cancel_order": ActionSpec(_check_cancel, _perform_cancel, ("order_id",)),
    "send_password_reset": ActionSpec(_check_reset, _perform_reset, ()),
    "update_shipping_address": ActionSpec(
        _check_address, _perform_address, ("order_id", "address")
    ),
}


def normalize_arguments(action: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Validate an action's arguments into their canonical form (for hashing and checks)."""
    spec = SPECS.get(action)
    if spec is None:
        raise ActionError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    missing = [name for name in spec.required if not arguments.get(name)]
    if missing:
        raise ActionError(f"{action} needs {', '.join(missing)}")
    normalized = {key: value for key, value in arguments.items() if value not in (None, "")}
    if "order_id" in normalized:
        normalized["order_id"] = str(normalized["order_id"]).strip().upper()
    if "amount" in normalized:
        normalized["amount"] = f"{_amount(normalized)}"
    return normalized


def propose(ctx: ToolContext, action: str, arguments: dict[str, Any]) -> ActionExecution:
    """Check policy and record the proposal (or the denial). Nothing is performed."""
    arguments = normalize_arguments(action, arguments)
    decision = SPECS[action].check(ctx, arguments)
    if decision.allowed and decision.amount is not None and action == "process_refund":
        arguments = {**arguments, "amount": f"{decision.amount:.2f}"}
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


def execute(ctx: ToolContext, proposal: ActionExecution) -> ActionExecution:
    """Perform a confirmed proposal exactly once; a repeat returns the stored outcome."""
    if proposal.customer_id != ctx.customer_id:
        return _deny_foreign(ctx, proposal)
    if proposal.requires_human:
        return proposal
    if not ledger.claim_action(ctx.engine, proposal.id):
        current = ledger.get_action(ctx.engine, proposal.id)
        return current or proposal
    spec = SPECS[proposal.action]
    decision = spec.check(ctx, proposal.arguments)
    if not decision.allowed or decision.requires_human:
        return ledger.finish_action(
            ctx.engine,
            proposal.id,
            status=ActionStatus.DENIED,
            result={"policy": decision.as_record()},
            error=decision.reason,
        )
    try:
        result = spec.perform(ctx, proposal.arguments, proposal.id)
    except BackendError as exc:
        return ledger.finish_action(
            ctx.engine, proposal.id, status=ActionStatus.FAILED, error=str(exc)
        )
    return ledger.finish_action(
        ctx.engine,
        proposal.id,
        status=ActionStatus.EXECUTED,
        result={"policy": decision.as_record(), **result},
    )


def _deny_foreign(ctx: ToolContext, proposal: ActionExecution) -> ActionExecution:
    decision = deny("ownership.foreign_action", "That action belongs to another account.")
    return ledger.record_action(
        ctx.engine,
        ActionExecution(
            ticket_id=ctx.ticket_id,
            customer_id=ctx.customer_id,
            action=proposal.action,
            arguments=proposal.arguments,
            arguments_hash=proposal.arguments_hash,
            status=ActionStatus.DENIED,
            policy_rule=decision.rule_id,
            policy_allowed=False,
            policy_reason=decision.reason,
            result={"policy": decision.as_record()},
        ),
    )
