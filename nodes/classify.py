"""Classify: embeds the message once and runs the intent cascade on it."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import AgentContext, services_of
from graph.state import IntentView, TicketState
from supportgraph.intents.classifier import embed_message
from supportgraph.intents.confirmation import detect_confirmation

RECENT_VECTORS = 5
ACTION_INTENTS = {
    "process_refund": "refund",
    "cancel_order": "cancel_order",
    "send_password_reset": "password_reset",
    "update_shipping_address": "account_update",
}


def _only_about_proposals(text: str, state: TicketState, services: Any) -> bool:
    """A reply whose only recognised requests are the proposals themselves ("yes, cancel it")."""
    named = services.classifier.rule_intents(text)
    proposed = {ACTION_INTENTS[p["action"]] for p in state.get("open_proposals", [])}
    return named <= proposed


def classify(state: TicketState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Write the turn's embedding, its intents, and whether it answers a proposal."""
    services = services_of(runtime)
    text = services.model_text(state["message"])
    # the message, and its clauses in one batch when it has several
    vector, clause_vectors = embed_message(services.embedder, text)
    confirmation = detect_confirmation(text) if state.get("open_proposals") else None
    if confirmation and not _only_about_proposals(text, state, services):
        confirmation = None  # "no, refund the other order instead" is a new request
    vector_list = [round(float(x), 6) for x in vector]
    recent = [*state.get("recent_vectors", [])[-(RECENT_VECTORS - 1) :], vector_list]
    if confirmation:
        return {
            "model_text": text,
            "message_vector": vector_list,
            "recent_vectors": recent,
            "intents": [],
            "confirmation": confirmation,
        }
    classifier, variant = services.classifier_for(state["customer_id"])
    predictions = classifier.classify(text, vector, clause_vectors)
    intents: list[IntentView] = [
        {
            "intent": p.intent,
            "sub_intent": p.sub_intent,
            "confidence": round(p.confidence, 4),
            "margin": None if p.margin is None else round(p.margin, 4),
            "classifier_used": p.classifier_used,
            "model_version": p.model_version,
            "latency_ms": round(p.latency_ms, 3),
            "evidence": p.evidence,
            "clause": p.evidence or text,
            "topic": p.topic,
        }
        for p in predictions
    ]
    return {
        "model_text": text,
        "message_vector": vector_list,
        "recent_vectors": recent,
        "intents": intents,
        "intent_history": [*state.get("intent_history", []), intents[0]["intent"]],
        "confirmation": None,
        "ab_variant": variant,
    }
