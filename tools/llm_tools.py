"""The guarded tools as LangChain tools for a tool-calling model, built for one turn.

The factory closes over the turn's ``ToolContext``: the customer's identity is never a tool
argument, so nothing a model writes can choose whose data is read or changed. Read tools run
at once; write tools only propose (a policy check and a recorded proposal, or a recorded
refusal). Executing a proposal needs the customer's confirmation, which no model can give.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field

from policies.decision import deny
from supportgraph.db.models import ActionExecution
from tools import account
from tools import actions as action_tools
from tools.audit import record_decision
from tools.context import ToolContext

ORDER_ID = Field(description="the order number, e.g. ORD-789")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")  # no smuggled customer_id or ticket_id


class NoArgs(_Args):
    """No arguments."""


class OrderArgs(_Args):
    """One of the customer's orders."""

    order_id: str = ORDER_ID


class PaymentArgs(_Args):
    """Optionally one order."""

    order_id: str | None = Field(default=None, description="only this order's payments")


class RefundArgs(_Args):
    """A refund of one order."""

    order_id: str = ORDER_ID
    amount: str | None = Field(
        default=None, description="dollars, e.g. 49.99; leave out to refund all that is left"
    )


class ResetArgs(_Args):
    """A password reset link."""

    email: str | None = Field(
        default=None, description="an address the customer named, if any (never used to send)"
    )
    has_email_access: bool = Field(
        default=True, description="false when the customer can't reach the email on file"
    )


class AddressArgs(_Args):
    """A new shipping address for an unshipped order."""

    order_id: str = ORDER_ID
    address: str = Field(description="the full new street address, city, state and ZIP")


@dataclass
class TurnTools:
    """One turn's tools, and what its write tools proposed."""

    ctx: ToolContext
    tools: list[BaseTool] = field(default_factory=list)
    proposals: list[ActionExecution] = field(default_factory=list)
    orders_read: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # what the tools told the model

    def run(self, call: ToolCall) -> ToolMessage:
        """Run one tool call; an unknown tool or bad arguments are refused and recorded.

        Other errors (a database that is down) propagate: the turn falls back to the workflow.
        """
        by_name = {tool.name: tool for tool in self.tools}
        tool = by_name.get(call["name"])
        try:
            if tool is None:
                raise ValueError(f"there is no tool named {call['name']!r}")
            content = str(tool.invoke(call["args"]))
        except ValueError as exc:  # validation and ActionError: the model may try again
            self._record_rejected(call, exc)
            content = json.dumps({"error": f"refused: {exc}"})
        self.outputs.append(content)
        return ToolMessage(content=content, tool_call_id=call["id"] or call["name"])

    def _record_rejected(self, call: ToolCall, exc: Exception) -> None:
        decision = deny("tool.arguments_rejected", f"The tool call was refused: {exc}")
        arguments = json.loads(json.dumps(call["args"], default=str))
        record_decision(self.ctx, call["name"][:64], arguments, decision)


def _read(name: str, description: str, schema: type[_Args], fn: Callable[..., Any]) -> BaseTool:
    def run(**kwargs: Any) -> str:
        found = fn(**kwargs)
        if found is None:
            return json.dumps({"error": "no such order on this customer's account"})
        return json.dumps(found)

    return StructuredTool.from_function(
        func=run, name=name, description=description, args_schema=schema
    )


def _write(
    ctx: ToolContext, turn: TurnTools, action: str, description: str, schema: type[_Args]
) -> BaseTool:
    def run(**kwargs: Any) -> str:
        row = action_tools.propose(ctx, action, kwargs)
        turn.proposals.append(row)
        return json.dumps(
            {
                "action_id": row.id,
                "status": row.status.value,
                "arguments": row.arguments,
                "requires_human": row.requires_human,
                "rule_id": row.policy_rule,
                "reason": row.policy_reason,
                "note": "Only proposed: nothing happens unless the customer confirms.",
            }
        )

    return StructuredTool.from_function(
        func=run, name=action, description=description, args_schema=schema
    )


def build_tools(ctx: ToolContext) -> TurnTools:
    """Every guarded tool, acting for ``ctx.customer_id`` only."""
    turn = TurnTools(ctx)

    def lookup(order_id: str) -> dict[str, Any] | None:
        found = account.lookup_order(ctx, order_id)
        if found is not None:
            turn.orders_read.append(found["order_id"])
        return found

    turn.tools = [
        _read("lookup_order", "An order of this customer: status, items, money.", OrderArgs,
              lookup),
        _read("shipping_eta", "Where an order is and when it should arrive.", OrderArgs,
              lambda order_id: account.shipping_eta(ctx, order_id)),
        _read("recent_orders", "This customer's newest orders.", NoArgs,
              lambda: account.recent_orders(ctx)),
        _read("list_payments", "This customer's charges and refunds.", PaymentArgs,
              lambda order_id=None: account.list_payments(ctx, order_id=order_id)),
        _read("list_invoices", "This customer's invoices, one per order.", NoArgs,
              lambda: account.list_invoices(ctx)),
        _write(ctx, turn, "process_refund", "Propose a refund to the original payment method.",
               RefundArgs),
        _write(ctx, turn, "cancel_order", "Propose cancelling an order that has not shipped.",
               OrderArgs),
        _write(ctx, turn, "send_password_reset",
               "Propose sending a password reset link to the email on file.", ResetArgs),
        _write(ctx, turn, "update_shipping_address",
               "Propose a new shipping address for an order that has not shipped.", AddressArgs),
    ]  # fmt: skip
    return turn


READ_TOOLS = frozenset(
    {"lookup_order", "shipping_eta", "recent_orders", "list_payments", "list_invoices"}
)
WRITE_TOOLS = frozenset(action_tools.ACTIONS)
