"""The resolver's workflows, one module per kind of request, and the handler of each intent.

A handler reads facts through ``tools``, proposes what policy allows and returns one grounded
answer part; intents without a handler of their own are answered from the help centre.
"""

from __future__ import annotations

from nodes.workflows.account import account_update, password_reset
from nodes.workflows.common import Handler
from nodes.workflows.conversation import acknowledge, complaint, unknown
from nodes.workflows.orders import order_action, order_status

HANDLERS: dict[str, Handler] = {
    "order_status": order_status,
    "refund": order_action("process_refund"),
    "cancel_order": order_action("cancel_order"),
    "password_reset": password_reset,
    "account_update": account_update,
    "human_agent": acknowledge("handoff_requested"),
    "complaint": complaint,
    "unknown": unknown,
}
