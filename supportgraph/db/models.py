"""The support records: every ticket, message, decision and action is stored here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Timezone-aware UTC now: every stored moment carries its zone."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A random, unguessable id with a readable prefix."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class TicketStatus(StrEnum):
    """Where a ticket stands."""

    OPEN = "open"
    AWAITING_CUSTOMER = "awaiting_customer"
    ESCALATED = "escalated"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class ActionStatus(StrEnum):
    """The life of an action: proposed → pending (claimed) → executed | failed; or denied."""

    PROPOSED = "proposed"
    PENDING = "pending"
    EXECUTED = "executed"
    FAILED = "failed"
    DENIED = "denied"
    DECLINED = "declined"


class SupportTicket(SQLModel, table=True):
    """One customer conversation; its id is also the LangGraph thread id."""

    id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(index=True, max_length=64)
    channel: str = Field(default="web_chat", max_length=32)
    status: TicketStatus = Field(default=TicketStatus.OPEN, index=True)
    priority: int = Field(default=3, description="1 = most urgent")
    primary_intent: str | None = Field(default=None, index=True, max_length=64)
    resolved_by: str | None = Field(default=None, max_length=16, description="ai or human")
    escalation_reason: str | None = None
    assigned_agent_id: str | None = Field(default=None, index=True, max_length=64)
    handoff_summary: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # What the human queue ranks the ticket by, stored at each handoff (agents.queue).
    queue_sentiment: float | None = Field(default=None, description="most negative, 0-1")
    queue_order_value_cents: int | None = None
    queue_rule_id: str | None = Field(default=None, max_length=64)
    ab_variant: str | None = Field(default=None, max_length=32)
    csat_score: int | None = None
    turn_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    escalated_at: datetime | None = None
    assigned_at: datetime | None = None
    resolved_at: datetime | None = None


class CustomerMessage(SQLModel, table=True):
    """A message in a ticket, from the customer, the AI or a human agent."""

    id: str = Field(default_factory=lambda: new_id("msg"), primary_key=True, max_length=64)
    ticket_id: str = Field(foreign_key="supportticket.id", index=True, max_length=64)
    turn: int = Field(description="1-based turn of the conversation")
    role: str = Field(max_length=16, description="customer, ai, human_agent")
    content: str
    channel: str = Field(default="web_chat", max_length=32)
    flags: list[str] = Field(default_factory=list, sa_type=JSON)
    client_metadata: dict[str, Any] | None = Field(
        default=None, sa_type=JSON, description="the page and earlier messages the client sent"
    )
    sentiment: float | None = None
    response_latency_ms: float | None = None
    prompt_tokens: int | None = Field(default=None, description="LLM input tokens spent on it")
    completion_tokens: int | None = Field(default=None, description="LLM output tokens spent on it")
    created_at: datetime = Field(default_factory=utcnow, index=True)


class IntentClassification(SQLModel, table=True):
    """One intent predicted for a customer message (several for a multi-intent message)."""

    id: str = Field(default_factory=lambda: new_id("cls"), primary_key=True, max_length=64)
    ticket_id: str = Field(foreign_key="supportticket.id", index=True, max_length=64)
    message_id: str = Field(foreign_key="customermessage.id", index=True, max_length=64)
    intent: str = Field(index=True, max_length=64)
    sub_intent: str | None = Field(default=None, max_length=64)
    confidence: float
    margin: float | None = None
    classifier_used: str = Field(max_length=16, description="rules, embedding, llm, fallback")
    model_version: str | None = Field(default=None, max_length=64)
    is_primary: bool = True
    latency_ms: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class RetrievalContext(SQLModel, table=True):
    """What the retriever found for a message: sources with scores, and its cost."""

    id: str = Field(default_factory=lambda: new_id("ret"), primary_key=True, max_length=64)
    ticket_id: str = Field(foreign_key="supportticket.id", index=True, max_length=64)
    message_id: str = Field(foreign_key="customermessage.id", index=True, max_length=64)
    query: str
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    top_score: float = 0.0
    quality: float = 0.0
    context_tokens: int = 0
    latency_ms: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class EscalationDecision(SQLModel, table=True):
    """The escalation gate's decision for a turn, with every signal and its contribution."""

    id: str = Field(default_factory=lambda: new_id("esc"), primary_key=True, max_length=64)
    ticket_id: str = Field(foreign_key="supportticket.id", index=True, max_length=64)
    message_id: str | None = Field(default=None, foreign_key="customermessage.id", max_length=64)
    escalate: bool
    score: float
    threshold: float
    signals: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    rule_id: str | None = Field(default=None, max_length=64)
    reason: str
    source: str = Field(default="gate", max_length=16, description="gate, customer, api")
    created_at: datetime = Field(default_factory=utcnow)


class ActionExecution(SQLModel, table=True):
    """An action proposed to or executed for a customer, with its policy decision and outcome."""

    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_action_idempotency_key"),)

    id: str = Field(default_factory=lambda: new_id("act"), primary_key=True, max_length=64)
    ticket_id: str | None = Field(default=None, foreign_key="supportticket.id", index=True)
    customer_id: str = Field(index=True, max_length=64)
    action: str = Field(index=True, max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    arguments_hash: str = Field(max_length=64)
    status: ActionStatus = Field(default=ActionStatus.PROPOSED, index=True)
    idempotency_key: str | None = Field(default=None, max_length=128)
    request_hash: str | None = Field(default=None, max_length=64)
    policy_rule: str = Field(max_length=64)
    policy_allowed: bool
    policy_reason: str
    requires_human: bool = False
    confirmed_by_customer: bool = False
    customer_reason: str | None = Field(
        default=None, max_length=500, description="why the customer asked, in their words"
    )
    claimed_by: str | None = Field(
        default=None, max_length=128, description="host:pid:boot of the process that claimed it"
    )
    result: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    executed_at: datetime | None = None


class IdempotentRequest(SQLModel, table=True):
    """An API request made with an Idempotency-Key, and the response to replay for it.

    Keys are scoped by customer. A row is written (in progress) before the request is
    handled, so concurrent requests with one key are handled once.
    """

    __table_args__ = (UniqueConstraint("customer_id", "key", name="uq_idempotent_request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(max_length=64)
    key: str = Field(max_length=128)
    request_hash: str = Field(max_length=64)
    state: str = Field(default="in_progress", max_length=16, description="in_progress, done")
    response: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    action_id: str | None = Field(default=None, max_length=64)
    started_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class ResolutionFeedback(SQLModel, table=True):
    """How a human resolved a ticket: the training signal of the learning loop."""

    id: str = Field(default_factory=lambda: new_id("fb"), primary_key=True, max_length=64)
    ticket_id: str = Field(foreign_key="supportticket.id", index=True, max_length=64)
    agent_id: str | None = Field(default=None, max_length=64)
    message_text: str | None = None
    predicted_intent: str | None = Field(default=None, max_length=64)
    correct_intent: str = Field(max_length=64)
    corrected_answer: str | None = None
    correction_type: str = Field(
        max_length=32,
        description="none, intent, answer, action, unnecessary_escalation",
    )
    used_for_training: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class IntentModelVersion(SQLModel, table=True):
    """A trained intent model: which one serves, which is on trial, and how each scored."""

    version: str = Field(primary_key=True, max_length=64)
    path: str
    status: str = Field(
        index=True, max_length=16, description="serving, candidate, retired, rejected"
    )
    parent_version: str | None = Field(default=None, max_length=64)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    n_feedback: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    promoted_at: datetime | None = None


class KnowledgeGap(SQLModel, table=True):
    """A question the help centre could not answer: what the support team should write next."""

    id: str = Field(default_factory=lambda: new_id("gap"), primary_key=True, max_length=64)
    ticket_id: str = Field(foreign_key="supportticket.id", index=True, max_length=64)
    message_id: str = Field(foreign_key="customermessage.id", index=True, max_length=64)
    intent: str = Field(max_length=64)
    question: str = Field(description="the customer's question as stored (card numbers masked)")
    nearest_source_id: str | None = Field(
        default=None, max_length=200, description="the closest article found, which did not answer"
    )
    nearest_score: float | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
