"""The product spec's example requests, as its four endpoints publish them.

The OpenAPI document shows them, and the contract tests send them verbatim (a ticket id the
spec makes up is replaced by the ticket the message example opened).
"""

from __future__ import annotations

from typing import Any

SPEC_TICKET = "tkt_abc123"

MESSAGE: dict[str, Any] = {
    "customer_id": "cust_456",
    "ticket_id": "new",
    "message": "I ordered a laptop 3 days ago and it still says processing. Can I get a refund?",
    "channel": "web_chat",
    "metadata": {"page_url": "/orders/ORD-789", "previous_messages": []},
}

ACTION: dict[str, Any] = {
    "ticket_id": SPEC_TICKET,
    "action_type": "process_refund",
    "parameters": {"order_id": "ORD-789", "amount": "full", "reason": "order_not_shipped"},
}

ESCALATE: dict[str, Any] = {
    "ticket_id": SPEC_TICKET,
    "reason": "customer_requested_human",
    "conversation_summary": "Customer wants a refund for a laptop (ORD-789) that has not shipped.",
    "priority": "high",
    "escalation_signals": ["explicit_request", "high_order_value"],
}

ANALYTICS_QUERY: dict[str, str] = {"period": "7d"}
