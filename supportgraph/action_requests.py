"""Confirmed action requests from the API: match the proposal, execute once, replay repeats."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from graph.context import tool_context
from supportgraph import idempotency
from supportgraph.api_models import ActionResponse
from supportgraph.db import actions as ledger
from supportgraph.db.engine import session_scope
from supportgraph.db.models import (
    ActionExecution,
    ActionStatus,
    SupportTicket,
    TicketStatus,
    utcnow,
)
from supportgraph.observability import bind_ticket
from supportgraph.replies import executed_sentence, refund_sentence, shipping_sentence
from supportgraph.support import NotFoundError, SupportService
from tools import account
from tools import actions as action_tools


class ConflictError(RuntimeError):
    """The request contradicts a stored proposal or an earlier request with the same key."""


@dataclass(frozen=True)
class ActionRequest:
    """What a client asks for."""

    ticket_id: str
    customer_id: str
    action: str
    arguments: dict[str, Any]
    confirmed_by_customer: bool | None
    action_id: str | None = None
    idempotency_key: str | None = None
    reason: str | None = None

    @property
    def body_hash(self) -> str:
        """A hash of the request body, to tell a replay from a different request."""
        body = {
            "ticket_id": self.ticket_id,
            "customer_id": self.customer_id,
            "action": self.action,
            "arguments": self.arguments,
            "confirmed_by_customer": self.confirmed_by_customer,
            "action_id": self.action_id,
            "reason": self.reason,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def handle_action(service: SupportService, request: ActionRequest) -> ActionResponse:
    """Execute (or refuse) a requested action; a repeated Idempotency-Key replays its response.

    Raises:
        NotFoundError: the ticket or the action is not the customer's.
        ConflictError: the arguments differ from the proposal the customer was shown.
        idempotency.KeyConflict: the key came with another body, or is still in use.
        tools.actions.ActionError: unknown action or unusable arguments.

    """
    bind_ticket(request.ticket_id)
    try:
        response = _handle_action(service, request)
    except Exception as exc:
        service.metrics.action_refused(request.action, exc)
        raise
    service.metrics.action(response)
    return response


def _handle_action(service: SupportService, request: ActionRequest) -> ActionResponse:
    engine = service.services.engine
    _check_ticket(engine, request)
    if request.action in READ_ACTIONS:
        return _read(service, request)
    key = request.idempotency_key
    if not key:
        return _respond(service, request)
    customer_id = request.customer_id
    stored = idempotency.begin(
        engine, customer_id=customer_id, key=key, request_hash=request.body_hash
    )
    if stored is not None:
        if isinstance(stored.get("result"), dict):  # stored before result became the sentence
            stored = {**stored, "details": stored["result"], "result": None}
        return ActionResponse.model_validate({**stored, "replayed": True})
    try:
        response = _respond(service, request)
    except BaseException:
        idempotency.release(engine, customer_id=customer_id, key=key)
        raise
    stored = response.model_dump(mode="json")
    assert response.action_id is not None  # a write action is always stored
    idempotency.complete(
        engine, customer_id=customer_id, key=key, response=stored, action_id=response.action_id
    )
    return response


READ_ACTIONS = frozenset({"check_shipping_eta"})


def _read(service: SupportService, request: ActionRequest) -> ActionResponse:
    """A read action: nothing changes, so nothing is proposed, confirmed or recorded."""
    order_id = str(request.arguments.get("order_id") or "").strip()
    if not order_id or set(request.arguments) - {"order_id"}:
        raise action_tools.ActionError(f"{request.action} takes order_id only")
    ctx = tool_context(
        service.services, customer_id=request.customer_id, ticket_id=request.ticket_id
    )
    found = account.shipping_eta(ctx, order_id)
    if found is None:
        raise NotFoundError(f"order {order_id.upper()} not found")
    estimate = found["estimate"]
    return ActionResponse(
        action_id=None,
        action_type=request.action,
        action=request.action,
        status="executed",
        parameters={"order_id": found["order_id"]},
        reason=estimate["basis"],
        rule_id=estimate["rule_id"],
        requires_human=False,
        result=shipping_sentence(found),
        details=found,
        error=None,
        executed_at=utcnow(),
    )


def _check_ticket(engine: Engine, request: ActionRequest) -> None:
    with Session(engine) as session:
        ticket = session.get(SupportTicket, request.ticket_id)
    if ticket is None or ticket.customer_id != request.customer_id:
        raise NotFoundError(f"ticket {request.ticket_id} not found for {request.customer_id}")


def _respond(service: SupportService, request: ActionRequest) -> ActionResponse:
    row = _execute_request(service, request)
    status = row.status.value
    if status == "proposed" and not request.confirmed_by_customer:
        status = "awaiting_confirmation"
    reason = {"reason": row.customer_reason} if row.customer_reason else {}
    return ActionResponse(
        action_id=row.id,
        action_type=row.action,
        action=row.action,
        status=status,
        parameters={**row.arguments, **reason},
        reason=row.error or row.policy_reason,
        rule_id=row.policy_rule,
        requires_human=row.requires_human,
        result=_told(service, row) if row.status == ActionStatus.EXECUTED else None,
        details=row.result,
        error=row.error,
        executed_at=row.executed_at,
    )


def _told(service: SupportService, row: ActionExecution) -> str:
    """The sentence for the customer, from the stored result; refunds say when they appear."""
    assert row.result is not None
    if row.action in ("process_refund", "cancel_order"):
        return refund_sentence(
            row.action, row.result, service.services.policy.refunds.days_to_appear
        )
    return executed_sentence(row.action, row.result)


def _execute_request(service: SupportService, request: ActionRequest) -> ActionExecution:
    engine = service.services.engine
    arguments = action_tools.normalize_arguments(request.action, request.arguments)
    ctx = tool_context(
        service.services, customer_id=request.customer_id, ticket_id=request.ticket_id
    )
    proposal = _matching_proposal(engine, request, arguments)
    # Left unsaid, confirming means asking for the very proposal the customer was shown.
    confirmed = request.confirmed_by_customer
    if confirmed is None:
        confirmed = proposal is not None
    if proposal is None:
        proposal = action_tools.propose(ctx, request.action, arguments)
    if request.reason:
        ledger.note_reason(engine, proposal.id, request.reason)
        proposal.customer_reason = proposal.customer_reason or request.reason
    if proposal.status == ActionStatus.DENIED or not confirmed:
        return proposal
    outcome = action_tools.execute(ctx, proposal)
    _after_execution(service, request.ticket_id, outcome)
    return outcome


def _matching_proposal(
    engine: Engine, request: ActionRequest, arguments: dict[str, Any]
) -> ActionExecution | None:
    """The stored proposal this request confirms; different arguments are refused."""
    if request.action_id:
        proposal = ledger.get_action(engine, request.action_id)
        if proposal is None or proposal.ticket_id != request.ticket_id:
            raise NotFoundError(f"action {request.action_id} not found on this ticket")
    else:
        proposal = _latest_for_order(engine, request, arguments.get("order_id"))
        if proposal is None:
            return None
    merged = {**proposal.arguments, **arguments}
    if proposal.action != request.action or (
        ledger.arguments_hash(request.action, request.customer_id, merged)
        != proposal.arguments_hash
    ):
        raise ConflictError("the arguments differ from the proposal the customer was shown")
    return proposal


def _latest_for_order(
    engine: Engine, request: ActionRequest, order_id: str | None
) -> ActionExecution | None:
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(
            select(ActionExecution).where(
                ActionExecution.ticket_id == request.ticket_id,
                ActionExecution.customer_id == request.customer_id,
                ActionExecution.action == request.action,
            )
        ).all()
    candidates = [
        row
        for row in rows
        if row.status in (ActionStatus.PROPOSED, ActionStatus.PENDING, ActionStatus.EXECUTED)
        and row.arguments.get("order_id") == order_id
    ]
    return max(candidates, key=lambda row: row.created_at) if candidates else None


def _after_execution(service: SupportService, ticket_id: str, outcome: ActionExecution) -> None:
    """Close the proposal in the conversation and mark the ticket resolved by the agent."""
    with service.ticket_lock(ticket_id):
        config = service.config(ticket_id)
        state = service.graph.get_state(config).values
        still_open = state.get("open_proposals", [])
        remaining = [p for p in still_open if p["action_id"] != outcome.id]
        if len(remaining) != len(still_open):
            service.graph.update_state(config, {"open_proposals": remaining}, as_node="respond")
    if outcome.status != ActionStatus.EXECUTED:
        return
    with session_scope(service.services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        if ticket is not None and ticket.status not in (
            TicketStatus.ESCALATED,
            TicketStatus.ASSIGNED,
        ):
            ticket.status, ticket.resolved_by, ticket.resolved_at = (
                TicketStatus.RESOLVED,
                "ai",
                utcnow(),
            )
            session.add(ticket)
