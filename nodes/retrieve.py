"""Retrieve: help-article chunks for the message, and the customer's own account data."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from graph.context import AgentContext, services_of, tool_context
from graph.state import RetrievalView, Source, TicketState
from tools.account import lookup_order, recent_orders

ARTICLE_K = 4
RECENT_ORDERS = 5
ORDER_INTENTS = frozenset({"order_status", "refund", "cancel_order", "account_update", "complaint"})


def retrieve(state: TicketState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Write this turn's sources (orders first, then articles) and the retrieval figures."""
    started = time.perf_counter()
    services = services_of(runtime)
    vector = np.asarray(state["message_vector"], dtype=np.float32)
    hits = services.knowledge.search(
        vector,
        query=state.get("model_text") or state["message"],
        k=ARTICLE_K,
        kinds=("article", "resolution"),
    )
    sources: list[Source] = _order_sources(state, services)
    sources += [
        {
            "id": hit.id,
            "kind": hit.kind,
            "title": f"{hit.title}: {hit.heading}",
            "score": round(hit.score, 4),
            "text": hit.text,
        }
        for hit in hits
    ]
    top = hits[0].score if hits else 0.0
    retrieval: RetrievalView = {
        "query": state["message"],
        "top_score": round(top, 4),
        "quality": round(top, 4),
        "context_tokens": sum(len(s["text"].split()) for s in sources) * 4 // 3,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    return {"sources": sources, "retrieval": retrieval}


def _order_sources(state: TicketState, services: Any) -> list[Source]:
    """Orders the customer named, the one in focus, and (for order intents) the newest ones."""
    intents = {view["intent"] for view in state["intents"]}
    ctx = tool_context(services, customer_id=state["customer_id"], ticket_id=state["ticket_id"])
    focus = state.get("focus_order_id") if intents & ORDER_INTENTS else None
    wanted = [*state["entities"]["order_ids"], focus]
    found = [lookup_order(ctx, order_id) for order_id in wanted if order_id]
    orders = [order for order in found if order is not None]
    if intents & ORDER_INTENTS:
        seen = {order["order_id"] for order in orders}
        orders += [o for o in recent_orders(ctx, limit=RECENT_ORDERS) if o["order_id"] not in seen]
    return [
        {
            "id": order["order_id"],
            "kind": "order",
            "title": f"Order {order['order_id']}",
            "score": 1.0,
            "text": "",
            "facts": order,
        }
        for order in orders
    ]
