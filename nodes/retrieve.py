"""Retrieve: help-article chunks for the message, and the customer's own account data."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from graph.context import AgentContext, services_of, tool_context
from graph.state import IntentQuestion, IntentView, RetrievalView, Source, SourceHit, TicketState
from nodes.workflows.articles import may_answer_from_articles
from supportgraph.intents.clauses import own_part, refers_back
from supportgraph.knowledge.index import KnowledgeHit
from tools.account import lookup_order, recent_orders

ARTICLE_K = 4
RECENT_ORDERS = 5
ORDER_INTENTS = frozenset({"order_status", "refund", "cancel_order", "account_update", "complaint"})

log = logging.getLogger(__name__)


def retrieve(state: TicketState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Write this turn's sources (orders first, then articles) and the retrieval figures."""
    started = time.perf_counter()
    services = services_of(runtime)
    vector = np.asarray(state["message_vector"], dtype=np.float32)
    hits = _search(services, vector, state.get("model_text") or state["message"])
    sources: list[Source] = _order_sources(state, services)
    sources += [_article_source(hit) for hit in hits]
    questions: dict[str, IntentQuestion] = {}
    known = {source["id"] for source in sources}
    for intent, (question, found) in _intent_questions(state, services).items():
        sources += [_article_source(hit) for hit in found if hit.id not in known]
        known |= {hit.id for hit in found}
        hit_views: list[SourceHit] = [{"id": h.id, "score": round(h.score, 4)} for h in found]
        questions[intent] = {"question": question, "hits": hit_views}
    top = hits[0].score if hits else 0.0
    retrieval: RetrievalView = {
        "query": state["message"],
        "top_score": round(top, 4),
        "quality": round(top, 4),
        "context_tokens": sum(len(s["text"].split()) for s in sources) * 4 // 3,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    return {"sources": sources, "intent_questions": questions, "retrieval": retrieval}


def _search(services: Any, vector: np.ndarray, query: str) -> list[KnowledgeHit]:
    """Help-centre chunks and past resolutions for a query; none while the index is down.

    Orders, refunds and password resets do not need the help centre: a Chroma server that
    cannot be reached must not take them down with it. A question only articles answer finds
    nothing, and is answered as one the help centre does not cover.
    """
    try:
        return services.knowledge.search(
            vector, query=query, k=ARTICLE_K, kinds=("article", "resolution")
        )
    except Exception:
        log.warning("knowledge index unavailable: answering without it", exc_info=True)
        return []


def _article_source(hit: KnowledgeHit) -> Source:
    return {
        "id": hit.id,
        "kind": hit.kind,
        "title": f"{hit.title}: {hit.heading}",
        "score": round(hit.score, 4),
        "text": hit.text,
    }


def _intent_questions(
    state: TicketState, services: Any
) -> dict[str, tuple[str, list[KnowledgeHit]]]:
    """What each intent asks and the articles it finds, where the message's own search won't do.

    For a message asking several things: one search for the whole message finds the articles
    of its longest request; "how do I change my default card? and what are your support
    hours?" then answered the card question twice and the hours never. For an intent a
    decisive rule gave against the model's reading: its topic leads the question.
    """
    views = state["intents"]
    text = state.get("model_text") or state["message"]
    asked: dict[str, str] = {}
    for view in views:
        part = _asked_by(view, views, text) if len(views) > 1 else text
        # A decisive rule that overruled the model: the message's own embedding reads its
        # words as the model did ("can I cancel my subscription" found pre-order cancelling).
        topic = view.get("topic")
        searchable = part != text and len(part.split()) > 1 and not refers_back(part)
        # A search costs a query embedding and 10-25 ms: only for handlers that read articles.
        if (searchable or topic) and may_answer_from_articles(view, part):
            asked[view["intent"]] = f"{topic} {part}" if topic else part
    questions = list(dict.fromkeys(asked.values()))
    vectors = services.embedder.embed(questions) if questions else []
    found = {
        question: _search(services, vector, question)
        for question, vector in zip(questions, vectors, strict=True)
    }
    return {intent: (part, found[part]) for intent, part in asked.items()}


def _asked_by(view: IntentView, views: list[IntentView], text: str) -> str:
    """The part of the message an intent is about.

    The rest once the other requests' clauses are gone or, when they have none (intents of the
    whole message), the intent's own clause.
    """
    rest = own_part(
        text, [str(other.get("evidence") or "") for other in views if other is not view]
    )
    return (view.get("evidence") or text) if rest == text else rest


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
