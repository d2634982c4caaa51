"""Request and response models of the agent endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from policies.queue import ANY_SKILL
from supportgraph.agents.resolution import CorrectionType
from supportgraph.api_models import ID_PATTERN
from supportgraph.intents.taxonomy import load_taxonomy


def _known_intent(value: str) -> str:
    if value not in load_taxonomy().names:
        raise ValueError(f"unknown intent '{value}'; known: {', '.join(load_taxonomy().names)}")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


KnownIntent = Annotated[str, AfterValidator(_known_intent)]
SkillName = Annotated[str, AfterValidator(lambda s: s if s == ANY_SKILL else _known_intent(s))]
NonBlank = Annotated[str, AfterValidator(_not_blank)]


class AgentIn(BaseModel):
    """An agent's profile: the intents they handle ('*' for any) and how many tickets at once."""

    name: str = Field(min_length=1, max_length=128, examples=["Sam Ortiz"])
    skills: list[SkillName] = Field(
        default_factory=list, max_length=50, examples=[["refund", "billing"]]
    )
    capacity: int = Field(default=3, ge=1, le=100)
    active: bool = True


class AgentOut(AgentIn):
    """An agent and the tickets they hold now."""

    id: str
    open_tickets: int


class WaitOut(BaseModel):
    """Where a ticket stands in the queue; estimated_wait_s is null until it can be measured."""

    position: int
    estimated_wait_s: float | None
    basis: str
    measured_resolutions: int


class QueueEntryOut(WaitOut):
    """A ticket waiting for a person."""

    ticket_id: str
    customer_id: str
    primary_intent: str | None
    priority: float
    priority_terms: dict[str, float]
    waiting_s: float
    order_value: str
    escalated_at: datetime | None
    reason: str | None
    summary: str | None
    open_question: str | None
    suggested_next_step: str | None


class ClaimIn(BaseModel):
    """Claim a named ticket, or (without one) the best queued ticket within the agent's skills."""

    ticket_id: str | None = Field(default=None, pattern=ID_PATTERN)


class ClaimOut(BaseModel):
    """The ticket now assigned to the agent, with its handoff packet."""

    ticket_id: str
    status: str
    assigned_agent_id: str
    assigned_at: datetime
    handoff: dict[str, Any] | None


class ReplyIn(BaseModel):
    """What the agent tells the customer."""

    message: NonBlank = Field(min_length=1, max_length=4000)


class MessageOut(BaseModel):
    """A message of the conversation."""

    id: str
    ticket_id: str
    turn: int
    role: str
    content: str
    created_at: datetime


class ResolveIn(BaseModel):
    """How the agent resolved the ticket: the training signal and the reusable answer."""

    correct_intent: KnownIntent = Field(examples=["refund"])
    answer: NonBlank = Field(min_length=1, max_length=4000)
    correction_type: CorrectionType


class ResolveOut(BaseModel):
    """The stored outcome."""

    ticket_id: str
    status: str
    resolved_at: datetime
    feedback_id: str
    knowledge_id: str


class ActionStateOut(BaseModel):
    """An action proposed or carried out in the conversation, and where it stands."""

    id: str
    action: str
    arguments: dict[str, Any]
    arguments_hash: str
    status: str
    requires_human: bool
    policy_reason: str
    executed_at: datetime | None


class ConversationOut(BaseModel):
    """The customer's view: messages after a turn and, while waiting, the queue position."""

    ticket_id: str
    status: str
    assigned_agent_id: str | None = None
    csat_score: int | None = None
    messages: list[MessageOut]
    actions: list[ActionStateOut] = Field(
        default_factory=list, description="the ticket's proposals and executed actions"
    )
    queue: WaitOut | None


class ApprovalIn(BaseModel):
    """A person's decision on a proposal that policy left for one, with an optional note."""

    note: str | None = Field(
        default=None,
        max_length=500,
        description="why; a rejection's note is told to the customer",
        examples=["Approved after checking the photos of the dead pixels."],
    )


class ApprovalOut(BaseModel):
    """The decision and the stored outcome of the action (executed, denied or failed)."""

    ticket_id: str
    decision: str = Field(description="approved or rejected")
    decided_by: str
    note: str | None
    reason: str = Field(description="why the action ended as it did")
    action: ActionStateOut
    told_customer: str | None = Field(
        description="the message posted to the customer; null when the decision was made before"
    )
