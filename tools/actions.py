"""Write actions in two phases: propose (policy check, recorded) and execute (claimed, recorded).

A write is a thin adapter: load → ``policies`` decision → record → perform → record outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
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
from tools.audit import record_decision
from tools.context import ToolContext
from tools.reconcile import settle

ACTIONS = ("process_refund", "cancel_order", "send_password_reset", "update_shipping_address")


class ActionError(ValueError):
    """The request names no known action or carries unusable arguments."""

    def __init__(self, message: str, *, field: str = "parameters") -> None:
        super().__init__(message)
        self.field = field  # the part of an action request at fault: "action" or "parameters"


@dataclass(frozen=True)
class ActionSpec:
    """How one action is checked and performed, and which arguments it takes."""

    check: Callable[[ToolContext, dict[str, Any]], PolicyDecision]
    perform: Callable[[ToolContext, dict[str, Any], str], dict[str, Any]]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


def _amount(arguments: dict[str, Any]) -> Decimal | None:
    raw = arguments.get("amount")
    if raw in (None, ""):
        return None
    try:
        return Decimal(str(raw).replace(",", "").lstrip("$")).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise ActionError(f"amount {raw!r} is not a number") from exc


def _refunded_last_24h(ctx: ToolContext) -> Decimal:
    return ctx.backend.refunded_since(ctx.customer_id, ctx.clock() - timedelta(days=1))


def _check_refund(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    return check_refund(
        ctx.backend.get_order(args["order_id"]),
        customer_id=ctx.customer_id,
        amount=_amount(args),
        refunded_last_24h=_refunded_last_24h(ctx),
        now=ctx.clock(),
        config=ctx.policy,
    )


def _perform_refund(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    amount = _amount(args)
    assert amount is not None  # a proposal always carries the amount the policy decided
    order = ctx.backend.refund(args["order_id"], amount, action_id=action_id)
    return {"refunded": f"{amount:.2f}", "order": order_facts(order)}


def _check_cancel(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    return check_cancel(
        ctx.backend.get_order(args["order_id"]),
        customer_id=ctx.customer_id,
        refunded_last_24h=_refunded_last_24h(ctx),
        config=ctx.policy,
    )


def _perform_cancel(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    order = ctx.backend.cancel_order(args["order_id"], action_id=action_id)
    return {"order": order_facts(order)}


def _check_reset(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    return check_password_reset(
        ctx.backend.get_customer(ctx.customer_id),
        has_email_access=args.get("has_email_access", True),
        requested_email=args.get("email"),
    )


def _perform_reset(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    return {"sent_to": ctx.backend.send_password_reset(ctx.customer_id, action_id=action_id)}


def _check_address(ctx: ToolContext, args: dict[str, Any]) -> PolicyDecision:
    return check_address_change(
        ctx.backend.get_order(args["order_id"]),
        customer_id=ctx.customer_id,
        new_address=args["address"],
        config=ctx.policy,
    )


def _perform_address(ctx: ToolContext, args: dict[str, Any], action_id: str) -> dict[str, Any]:
    order = ctx.backend.update_shipping_address(
        args["order_id"], args["address"], action_id=action_id
    )
    return {"order": order_facts(order), "address": args["address"]}


SPECS: dict[str, ActionSpec] = {
    "process_refund": ActionSpec(_check_refund, _perform_refund, ("order_id",), ("amount",)),
    "cancel_order": ActionSpec(_check_cancel, _perform_cancel, ("order_id",)),
    "send_password_reset": ActionSpec(
        _check_reset, _perform_reset, (), ("email", "has_email_access")
    ),
    "update_shipping_address": ActionSpec(
        _check_address, _perform_address, ("order_id", "address")
    ),
}


def normalize_arguments(action: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Validate an action's arguments into their canonical form (for hashing and checks)."""
    spec = SPECS.get(action)
    if spec is None:
        raise ActionError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}", field="action")
    missing = [name for name in spec.required if not arguments.get(name)]
    if missing:
        raise ActionError(f"{action} needs {', '.join(missing)}")
    unknown = sorted(set(arguments) - {*spec.required, *spec.optional})
    if unknown:
        raise ActionError(f"{action} takes no argument {', '.join(unknown)}")
    normalized = {key: value for key, value in arguments.items() if value not in (None, "")}
    if "order_id" in normalized:
        normalized["order_id"] = str(normalized["order_id"]).strip().upper()
    if "amount" in normalized:
        normalized["amount"] = f"{_amount(normalized)}"
    if "has_email_access" in normalized:
        if not isinstance(normalized["has_email_access"], bool):
            raise ActionError("has_email_access must be true or false")
        if normalized["has_email_access"]:
            del normalized["has_email_access"]  # the default: one canonical form, one hash
    return normalized


def propose(ctx: ToolContext, action: str, arguments: dict[str, Any]) -> ActionExecution:
    """Check policy and record the proposal (or the denial). Nothing is performed."""
    arguments = normalize_arguments(action, arguments)
    decision = SPECS[action].check(ctx, arguments)
    if decision.allowed and decision.amount is not None and action == "process_refund":
        arguments = {**arguments, "amount": f"{decision.amount:.2f}"}
    return record_decision(ctx, action, arguments, decision)


def execute(ctx: ToolContext, proposal: ActionExecution) -> ActionExecution:
    """Perform a confirmed proposal exactly once; a repeat returns the stored outcome.

    The row is claimed (proposed → pending) before the backend is called and finished
    after it. An unexpected error leaves the row to be settled from the backend's own record.
    """
    if proposal.customer_id != ctx.customer_id:
        decision = deny("ownership.foreign_action", "That action belongs to another account.")
        return record_decision(ctx, proposal.action, proposal.arguments, decision)
    if proposal.requires_human:
        return proposal
    if not ledger.claim_action(ctx.engine, proposal.id):
        return ledger.get_action(ctx.engine, proposal.id) or proposal
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
    except Exception:
        with suppress(Exception):  # the original error matters more than this attempt
            settle(ctx.engine, ctx.backend, proposal.id)
        raise
    return ledger.finish_action(
        ctx.engine,
        proposal.id,
        status=ActionStatus.EXECUTED,
        result={"policy": decision.as_record(), **result},
    )
