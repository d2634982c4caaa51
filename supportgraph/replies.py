"""Grounded reply templates: every fact in a reply comes from a tool result or a source."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from graph.state import ActionView, AnswerPart

CLARIFY = (
    "I'm not sure I understood. I can help with orders and deliveries, refunds and "
    "cancellations, passwords and account details, and billing questions. "
    "Could you tell me a bit more about what you need?"
)
GREETING = (
    "Hi! I can help with orders and deliveries, refunds and cancellations, passwords and "
    "account details, and billing questions. What can I do for you?"
)
APOLOGY = "I'm sorry about this experience."
CLOSING = "You're welcome! If anything else comes up, just write here."
CONFIRM_PROMPT = 'Shall I go ahead? Reply "yes" to confirm or "no" to leave it.'


def _money(value: Any) -> str:
    return f"${float(value):,.2f}"


def describe_order(facts: dict[str, Any]) -> str:
    """One sentence on where an order stands, from its facts only."""
    order_id, status = facts["order_id"], facts["status"]
    head = f"Order {order_id} ({facts['description']}, {_money(facts['total'])})"
    number = facts.get("tracking_number")
    tracking = f" (tracking number {number})" if number else ""
    if status == "processing":
        placed = f"{head} is still processing: it was placed on {facts['ordered_on']}"
        fewest, most = facts.get("processing_days") or (None, None)
        window = facts.get("ships_between")
        if fewest is None or not window:
            return f"{placed} and hasn't shipped yet."
        return (
            f"{placed} and hasn't shipped yet. Orders ship within {fewest}-{most} business days "
            f"of being placed, so it should ship by {window[1]}."
        )
    if status == "shipped":
        eta = (
            f" and is expected by {facts['estimated_delivery']}"
            if facts.get("estimated_delivery")
            else ""
        )
        return f"{head} has shipped: it left our warehouse on {facts['shipped_on']}{tracking}{eta}."
    if status == "delivered":
        return f"{head} was delivered on {facts['delivered_on']}{tracking}."
    if status == "cancelled" and Decimal(facts.get("refunded_total") or "0") > 0:
        refunded = _money(facts["refunded_total"])
        return f"{head} is cancelled: {refunded} went back to your payment method."
    if status == "cancelled":
        return f"{head} is cancelled."
    if status == "refunded":
        refunded = _money(facts["refunded_total"])
        return f"{head} is refunded: {refunded} went back to your payment method."
    return (
        f"{head} is partially refunded: {_money(facts['refunded_total'])} has been refunded "
        f"and {_money(facts['refundable'])} remains."
    )


def _order_status(part: AnswerPart) -> str:
    return describe_order(part["facts"])


def _offer(part: AnswerPart) -> str:
    facts = part["facts"]
    order = facts.get("order") or {}
    action = facts["action"]
    if action == "process_refund" and facts.get("cancels_order"):
        text = (
            f"Because it hasn't shipped, I can cancel order {order['order_id']} and refund the "
            f"full {_money(facts['amount'])} to your original payment method."
        )
    elif action == "process_refund":
        text = (
            f"I can refund {_money(facts['amount'])} for order {order['order_id']} "
            f"({order['description']}) to your original payment method."
        )
    elif action == "cancel_order":
        amount = _money(facts["amount"] or order["total"])
        text = f"I can cancel order {order['order_id']} and refund {amount}."
    elif action == "send_password_reset":
        text = "I can send a password reset link to the email address on your account."
    else:
        text = f"I can change the delivery address of order {order['order_id']}."
    offer = f"{text} {CONFIRM_PROMPT}"
    explained = facts.get("explained_by")
    return f"{_quoted(explained)}\n\n{offer}" if explained else offer


def _denied(part: AnswerPart) -> str:
    return str(part["facts"]["reason"])


def _needs_human(part: AnswerPart) -> str:
    # Always followed by the handoff notice: the gate hands every such turn to a person.
    return str(part["facts"]["reason"])


def _executed(part: AnswerPart) -> str:
    return executed_sentence(part["facts"]["action"], part["facts"]["result"])


def executed_sentence(action: str, result: dict[str, Any]) -> str:
    """What the customer is told once an action was carried out, from its stored result."""
    order = result.get("order") or {}
    if action == "process_refund" and order.get("status") == "cancelled":
        return (
            f"Done: order {order['order_id']} is cancelled and {_money(result['refunded'])} is "
            "being refunded to your original payment method."
        )
    if action == "process_refund":
        return (
            f"Done: {_money(result['refunded'])} for order {order['order_id']} is being refunded "
            "to your original payment method."
        )
    if action == "cancel_order":
        return f"Done: order {order['order_id']} is cancelled and you'll be refunded in full."
    if action == "send_password_reset":
        return f"Done: a password reset link is on its way to {result['sent_to']}."
    return f"Done: order {order['order_id']} will now ship to {result['address']}."


def refund_sentence(action: str, result: dict[str, Any], days: tuple[int, int] | list[int]) -> str:
    """The spec's result sentence for a refund or a cancellation, from its stored result."""
    order = result.get("order") or {}
    refunded = result.get("refunded") or order.get("refunded_total") or order.get("total")
    head = f"Refund of {_money(refunded)} initiated for order {order['order_id']}."
    if action == "cancel_order" or order.get("status") == "cancelled":
        head += " The order is cancelled, so it will not ship."
    return f"{head} Expect {days[0]}-{days[1]} business days for processing."


def _article(part: AnswerPart) -> str:
    text = _quoted(part["facts"])
    return f"{APOLOGY} {text}" if part["facts"].get("apology") else text


def _quoted(facts: dict[str, Any]) -> str:
    """An article's extracted sentences with their source."""
    return " ".join(facts["sentences"]) + f" (Source: {facts['title']}.)"


def _complaint(part: AnswerPart) -> str:
    order = part["facts"].get("order")
    return f"{APOLOGY} {describe_order(order)}" if order else f"{APOLOGY} I want to put it right."


def _fixed(text: str) -> Callable[[AnswerPart], str]:
    return lambda part: text


def _order_not_found(part: AnswerPart) -> str:
    ids = ", ".join(part["facts"].get("order_ids", []))
    return f"I couldn't find order {ids} on your account. Could you check the order number?"


TEMPLATES: dict[str, Callable[[AnswerPart], str]] = {
    "order_status": _order_status,
    "offer": _offer,
    "denied": _denied,
    "needs_human": _needs_human,
    "action_executed": _executed,
    "action_denied": lambda part: f"I couldn't do that: {part['facts']['reason']}",
    "action_failed": lambda part: (
        f"I couldn't complete that ({part['facts']['error']}). A team member can help."
    ),
    "action_pending": _fixed("That request is already being processed."),
    "declined": _fixed("No problem, I haven't changed anything."),
    "article": _article,
    "clarify": _fixed(CLARIFY),
    "greeting": _fixed(GREETING),
    "closing": _fixed(CLOSING),
    "no_answer": _fixed(
        "I don't have a reliable answer to that in our help center, so I won't guess. "
        "Could you rephrase, or would you like a team member to help?"
    ),
    "order_not_found": _order_not_found,
    "no_orders": _fixed("I couldn't find any orders on your account."),
    "ask_address": lambda part: (
        f"Which address should order {part['facts']['order']['order_id']} ship to? "
        "Please send the full street address, city and ZIP code."
    ),
    "complaint": _complaint,
    "handoff_requested": _fixed("Of course."),
    # the LLM resolver's own words; its offers and refusals still come from the templates above
    "llm_reply": lambda part: str(part["facts"]["text"]),
}


# Parts about an order (``facts["order"]``) whose reply describes the order first.
ORDER_FIRST_KINDS = frozenset({"offer", "denied", "needs_human", "article"})


def render(parts: list[AnswerPart]) -> str:
    """The reply for a turn: one paragraph per answer part, in order, without repeats.

    An order an offer or a refusal is about is described once, before the first such part.
    """
    paragraphs: list[str] = []
    described: set[str] = set()
    statuses = {p["facts"].get("order_id") for p in parts if p["kind"] == "order_status"}
    for part in parts:
        complained_of = (part["facts"].get("order") or {}).get("order_id")
        if part["kind"] == "complaint" and complained_of in statuses:
            part = {**part, "facts": {}}  # the status part describes that order
        elif part["kind"] == "complaint" and complained_of:
            described.add(complained_of)  # said after the apology
        order = part["facts"].get("order") if part["kind"] in ORDER_FIRST_KINDS else None
        if part["kind"] == "order_status":
            described.add(part["facts"]["order_id"])
        elif order and order["order_id"] not in described:
            described.add(order["order_id"])
            paragraphs.append(describe_order(order))
        text = TEMPLATES[part["kind"]](part)
        if text not in paragraphs:
            paragraphs.append(text)
    return "\n\n".join(paragraphs) if paragraphs else CLARIFY


def actions_available(actions: list[ActionView]) -> list[ActionView]:
    """The proposals a customer can confirm now."""
    return [a for a in actions if a["status"] == "proposed" and not a["requires_human"]]


ON_THE_WAY = frozenset({"processing", "shipped"})


def read_actions_offered(state: Mapping[str, Any]) -> list[str]:
    """Read actions worth offering: a shipping check when the answer cites an order on its way."""
    cited = {source_id for part in state.get("answer", []) for source_id in part["source_ids"]}
    statuses = {
        (source.get("facts") or {}).get("status")
        for source in state.get("sources", [])
        if source["kind"] == "order" and source["id"] in cited
    }
    return ["check_shipping_eta"] if statuses & ON_THE_WAY else []


def shipping_sentence(found: dict[str, Any]) -> str:
    """The answer to a shipping check, from the order and the policy's window."""
    estimate, order_id = found["estimate"], found["order_id"]

    def days(window: list[str]) -> str:
        first, last = window
        return f"on {first}" if first == last else f"between {first} and {last}"

    if found["status"] == "delivered" or estimate["rule_id"] == "shipping.delivered":
        return f"Order {order_id} was delivered on {found['delivered_on']}."
    if estimate["arrives_between"] is None:
        return f"Order {order_id} is {found['status']}, so it will not be delivered."
    window = estimate["ships_between"]
    ships = f" It should ship {days(window)}." if window else ""
    return (
        f"Order {order_id} is {found['status']}.{ships} Expected delivery "
        f"{days(estimate['arrives_between'])} ({estimate['basis']})."
    )
