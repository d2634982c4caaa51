"""An agent's decision on an action that policy left for a person: approve it or reject it.

Only the agent holding the ticket decides. Approving performs the action once, after policy
has checked it again (``tools.approvals``); rejecting performs nothing. Either way the
customer is told in the conversation. Asking again returns the stored outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from graph.context import tool_context
from policies.approval import awaits_person
from supportgraph.agents.resolution import held_ticket, reply
from supportgraph.agents.workflow import ConflictError
from supportgraph.db import actions as ledger
from supportgraph.db.models import ActionExecution, ActionStatus, utcnow
from supportgraph.replies import executed_sentence, refund_sentence
from supportgraph.support import NotFoundError, SupportService
from tools import approvals


class Verdict(StrEnum):
    """What the person decided."""

    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Decided:
    """The stored action after a person's decision, and what the customer was told."""

    action: ActionExecution
    verdict: Verdict
    decided_by: str
    note: str | None
    told: str | None  # None when this request only found an earlier decision


def approval_of(action: ActionExecution) -> dict[str, Any] | None:
    """The person's decision stored with the action, if any."""
    found = (action.result or {}).get("approval")
    return dict(found) if isinstance(found, dict) else None


def decide(
    support: SupportService,
    *,
    agent_id: str,
    ticket_id: str,
    action_id: str,
    verdict: Verdict,
    note: str | None = None,
) -> Decided:
    """Approve or reject an action of the agent's ticket that waits for a person.

    Raises:
        NotFoundError: Unknown agent, ticket, or action on this ticket.
        ConflictError: The agent does not hold the ticket, the action waits for no one, or
            it was decided the other way.

    """
    services = support.services
    with Session(services.engine) as session:
        customer_id = held_ticket(session, agent_id=agent_id, ticket_id=ticket_id).customer_id
    proposal = ledger.get_action(services.engine, action_id)
    if proposal is None or proposal.ticket_id != ticket_id:
        raise NotFoundError(f"action {action_id} not found on ticket {ticket_id}")
    if approval_of(proposal) is None:
        if not awaits_person(
            status=proposal.status.value,
            allowed=proposal.policy_allowed,
            requires_human=proposal.requires_human,
        ):
            raise ConflictError(
                f"action {action_id} is {proposal.status.value} and waits for no one's approval"
            )
        record = {
            "verdict": verdict.value,
            "by": agent_id,
            "note": note,
            "at": utcnow().isoformat(),
        }
        if verdict == Verdict.APPROVED:
            ctx = tool_context(services, customer_id=customer_id, ticket_id=ticket_id)
            proposal, fresh = approvals.perform_approved(ctx, proposal, record)
        else:
            why = f"Rejected by agent {agent_id}" + (f": {note}" if note else ".")
            proposal, fresh = approvals.reject(services.engine, proposal, record, why)
        if fresh:
            told = customer_text(proposal, verdict, note, services.policy.refunds.days_to_appear)
            reply(support, agent_id=agent_id, ticket_id=ticket_id, text=told)
            return Decided(proposal, verdict, agent_id, note, told)
    return _earlier(proposal, verdict)


def _earlier(action: ActionExecution, verdict: Verdict) -> Decided:
    """A decision made before this request: the same one is returned, another is a conflict."""
    earlier = approval_of(action)
    if earlier is None:
        raise ConflictError(f"action {action.id} is {action.status.value}; reload the ticket")
    if earlier.get("verdict") != verdict.value:
        raise ConflictError(
            f"action {action.id} was already {earlier.get('verdict')} by agent {earlier.get('by')}"
        )
    return Decided(action, verdict, str(earlier.get("by")), earlier.get("note"), None)


def _what(action: ActionExecution) -> str:
    args = action.arguments
    order = args.get("order_id", "")
    if action.action == "process_refund":
        amount = (action.result or {}).get("policy", {}).get("amount") or args.get("amount")
        money = f" of ${Decimal(str(amount)):,.2f}" if amount else ""
        return f"the refund{money} for order {order}"
    return {
        "cancel_order": f"cancelling order {order}",
        "send_password_reset": "the password reset",
        "update_shipping_address": f"the new shipping address for order {order}",
    }.get(action.action, action.action)


def customer_text(
    action: ActionExecution, verdict: Verdict, note: str | None, days: tuple[int, int] | list[int]
) -> str:
    """What the customer reads about the decision, from the stored outcome."""
    what = _what(action)
    if verdict == Verdict.REJECTED:
        return f"I've reviewed {what} and I can't approve it" + (f": {note}" if note else ".")
    if action.status == ActionStatus.EXECUTED:
        assert action.result is not None
        if action.action in ("process_refund", "cancel_order"):
            done = refund_sentence(action.action, action.result, days)
        else:
            done = executed_sentence(action.action, action.result)
        return f"I've approved {what}. {done}"
    if action.status == ActionStatus.DENIED:
        return f"I can't go ahead with {what} after all: {action.error}"
    return f"I approved {what}, but it couldn't be completed ({action.error}). I'll follow up here."
