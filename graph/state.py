"""Typed state of one support conversation. It is checkpointed: facts and ids only, JSON-safe."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, TypedDict


class Message(TypedDict):
    """One line of the transcript."""

    role: str  # customer, ai, human_agent
    content: str
    turn: int


class IntentView(TypedDict):
    """An intent of the current message."""

    intent: str
    sub_intent: str | None
    confidence: float
    margin: float | None
    classifier_used: str
    model_version: str | None
    latency_ms: float
    evidence: NotRequired[str | None]  # the clause that carried this intent
    # the text the intent was read from: its own clause, or the whole message (no clause of its
    # own); its confidence is the one read there
    clause: NotRequired[str]
    topic: NotRequired[str | None]  # what a decisive rule that overruled the model says


class Entities(TypedDict):
    """What the guard extracted from the message."""

    order_ids: list[str]
    amounts: list[str]
    emails: list[str]


class Source(TypedDict):
    """A piece of evidence an answer may rest on."""

    id: str
    kind: str  # article, order, payment
    title: str
    score: float
    text: str
    facts: NotRequired[dict[str, Any]]


class SourceHit(TypedDict):
    """A source retrieved for one question, with its relevance to that question."""

    id: str
    score: float


class IntentQuestion(TypedDict):
    """The part of a several-request message one intent is about, and the articles it found."""

    question: str
    hits: list[SourceHit]  # best first; each is also among the turn's sources


class RetrievalView(TypedDict):
    """Quality and cost of this turn's retrieval."""

    query: str
    top_score: float
    quality: float
    context_tokens: int
    latency_ms: float


class ActionView(TypedDict):
    """An action proposed, executed or refused, as the conversation knows it."""

    action_id: str
    action: str
    arguments: dict[str, Any]
    arguments_hash: str
    status: str
    allowed: bool
    requires_human: bool
    rule_id: str
    reason: str
    result: dict[str, Any] | None


class AnswerPart(TypedDict):
    """One thing the reply must say, with the facts and sources it rests on."""

    intent: str
    kind: str
    facts: dict[str, Any]
    source_ids: list[str]


class GateView(TypedDict):
    """The escalation gate's decision for this turn."""

    escalate: bool
    score: float
    threshold: float
    signals: dict[str, Any]
    rule_id: str | None
    reason: str


class InputState(TypedDict):
    """What a caller gives the graph for one turn."""

    ticket_id: str
    customer_id: str
    message: str
    channel: NotRequired[str]
    # The order the customer's page or earlier messages name: the focus unless the message
    # names one.
    context_order_id: NotRequired[str | None]


class OutputState(TypedDict):
    """What a caller reads back after a turn."""

    response: str
    intents: list[IntentView]
    sources: list[Source]
    actions: list[ActionView]
    escalated: bool
    gate: GateView | None
    handoff: dict[str, Any] | None


class TicketState(InputState):
    """The whole conversation state. Per-turn keys are reset by the guard at each turn."""

    transcript: Annotated[list[Message], operator.add]
    turn: int
    flags: list[str]
    entities: Entities
    model_text: str  # the message with typos repaired: what models and retrieval read
    message_vector: list[float]
    recent_vectors: list[list[float]]
    confirmation: str | None  # confirm, decline or None
    intents: list[IntentView]
    intent_history: list[str]
    sentiment_history: list[float]  # polarity of each customer message
    last_answer_signature: str  # what the agent said last turn, reduced (loop detection)
    ab_variant: str  # serving or candidate intent model
    sources: list[Source]
    intent_questions: dict[str, IntentQuestion]  # by intent, for messages asking several things
    retrieval: RetrievalView | None
    open_proposals: list[ActionView]
    focus_order_id: str | None  # the order the conversation is about
    actions: list[ActionView]
    answer: list[AnswerPart]
    grounding: dict[str, Any] | None  # the LLM answer's groundedness check, when one ran
    gate: GateView | None
    escalated: bool
    handed_off: bool
    response: str
    handoff: dict[str, Any] | None


def asked_question(state: Mapping[str, Any], intent: str) -> str:
    """The question an intent asks: its own part of a several-request message, else the message."""
    own = state.get("intent_questions", {}).get(intent)
    return str(state["message"] if own is None else own["question"])
