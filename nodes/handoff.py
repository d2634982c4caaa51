"""Handoff: the packet a person needs so the customer never repeats themselves."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from sqlalchemy.exc import SQLAlchemyError

from graph.context import AgentContext, services_of
from graph.state import AnswerPart, TicketState
from supportgraph.agents.queue import describe_wait, estimate_for_handoff, packet_order_ids
from supportgraph.replies import render

HANDOFF_NOTICE = (
    "I'm handing this conversation to a member of our support team. They'll see everything "
    "we've discussed, so you won't need to repeat yourself, and they'll reply right here."
)
WAITING_NOTICE = (
    "Thanks, I've added this to your conversation. A member of our support team will reply here."
)


def _gate(state: TicketState) -> dict[str, Any]:
    return dict(state.get("gate") or {"reason": "escalated", "rule_id": None})


def _summary(state: TicketState) -> str:
    intents = ", ".join(view["intent"] for view in state["intents"]) or "unknown"
    orders = ", ".join(state["entities"]["order_ids"]) or "none named"
    actions = "; ".join(
        f"{a['action']} {a['arguments'].get('order_id', '')} → {a['status']} ({a['rule_id']})"
        for a in state["actions"]
    )
    return (
        f"Customer {state['customer_id']} wrote about: {intents}. Orders: {orders}. "
        f"Escalated because: {_gate(state)['reason']}"
        + (f" Actions: {actions}." if actions else "")
    )


def _next_step(state: TicketState) -> str:
    needs = [p for p in state["answer"] if p["kind"] == "needs_human"]
    if needs:
        return f"Review and decide: {needs[0]['facts'].get('reason', '')}"
    return "Read the open question and reply to the customer in this ticket."


def _wait(state: TicketState, runtime: Runtime[AgentContext] | None) -> dict[str, Any] | None:
    """Queue position and measured wait estimate; None when called outside a graph run."""
    if runtime is None:
        return None
    gate = state.get("gate")
    signals: dict[str, Any] = gate["signals"] if gate else {}
    intents = state.get("intent_history") or [view["intent"] for view in state["intents"]]
    try:
        return estimate_for_handoff(
            services_of(runtime),
            ticket_id=state["ticket_id"],
            customer_id=state["customer_id"],
            intent=intents[0] if intents else None,
            negative_sentiment=float((signals.get("negative_sentiment") or {}).get("value", 0.0)),
            order_ids=packet_order_ids(
                {"entities": state["entities"], "transcript": state["transcript"]}
            ),
            rule_id=_gate(state)["rule_id"],
        )
    except SQLAlchemyError:  # an estimate must never stand between a customer and a person
        return None


def _said_at_handoff(part: AnswerPart) -> AnswerPart | None:
    """What a part says once a person has the ticket: an offer only where its order stands.

    An offer would wait for a "yes" the agent no longer acts on; the person finds it in the
    packet. "Of course." is the handoff notice's to say.
    """
    if part["kind"] == "handoff_requested":
        return None
    if part["kind"] != "offer":
        return part
    order = part["facts"].get("order")
    return {**part, "kind": "order_status", "facts": order} if order else None


def handoff(state: TicketState, runtime: Runtime[AgentContext] | None = None) -> dict[str, Any]:
    """Write the handoff packet and tell the customer what happens next."""
    if state.get("handed_off"):
        packet = dict(state.get("handoff") or {})
        packet["messages_while_waiting"] = [
            *packet.get("messages_while_waiting", []),
            {"turn": state["turn"], "content": state["message"]},
        ]
        return {
            "handoff": packet,
            "escalated": True,
            "response": WAITING_NOTICE,
            "transcript": [{"role": "ai", "content": WAITING_NOTICE, "turn": state["turn"]}],
        }
    answered = [said for p in state["answer"] if (said := _said_at_handoff(p)) is not None]
    wait = _wait(state, runtime)
    notice = f"{HANDOFF_NOTICE} {describe_wait(wait)}" if wait else HANDOFF_NOTICE
    reply = "\n\n".join(filter(None, [render(answered) if answered else "", notice]))
    packet = {
        "customer_id": state["customer_id"],
        "ticket_id": state["ticket_id"],
        "reason": _gate(state)["reason"],
        "rule_id": _gate(state)["rule_id"],
        "summary": _summary(state),
        "intents": state["intents"],
        "entities": state["entities"],
        "actions": state["actions"],
        "open_question": state["message"],
        "suggested_next_step": _next_step(state),
        "transcript": [*state["transcript"]],
        "escalated_at_turn": state["turn"],
        "wait_at_handoff": wait,
    }
    return {
        "handoff": packet,
        "handed_off": True,
        "response": reply,
        "transcript": [{"role": "ai", "content": reply, "turn": state["turn"]}],
    }
