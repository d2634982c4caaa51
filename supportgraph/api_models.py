"""Request and response models of the HTTP API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from supportgraph import spec_examples

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
Channel = Literal["web_chat", "mobile", "email", "sms", "voice", "api"]


CUSTOMER_ID_DOC = (
    "the customer the request speaks for: required with a key of scope customer:act-as, "
    "optional with a customer's token (which must name the same customer)"
)


MAX_PREVIOUS_MESSAGES = 50
PreviousRole = Literal["customer", "user", "ai", "assistant", "agent", "human_agent", "system"]


class PreviousMessage(BaseModel):
    """A message the customer's app showed before this one (for example a chat it kept)."""

    model_config = ConfigDict(extra="forbid")

    role: PreviousRole = "customer"
    content: str = Field(min_length=1, max_length=4000)


class MessageMetadata(BaseModel):
    """Where the customer is and what they saw before; stored with the message."""

    model_config = ConfigDict(extra="forbid")

    page_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^(https?://[^\s]+|/[^\s]*)$",
        examples=["/orders/ORD-789"],
        description="the page the customer is on (an absolute http(s) URL or a path); an "
        "order it names is the conversation's focus unless the message names another",
    )
    previous_messages: list[PreviousMessage | str] = Field(
        default_factory=list,
        max_length=MAX_PREVIOUS_MESSAGES,
        description="earlier messages, as text or {role, content}",
    )

    @field_validator("previous_messages")
    @classmethod
    def _texts_fit(cls, value: list[PreviousMessage | str]) -> list[PreviousMessage | str]:
        for item in value:
            if isinstance(item, str) and not 0 < len(item.strip()) <= 4000:
                raise ValueError("each previous message holds 1-4000 characters")
        return value

    def stored(self) -> dict[str, Any]:
        """The metadata as stored with the message: every previous message as role+content."""
        return {
            "page_url": self.page_url,
            "previous_messages": [
                {"role": "customer", "content": item}
                if isinstance(item, str)
                else item.model_dump()
                for item in self.previous_messages
            ],
        }


class MessageRequest(BaseModel):
    """A customer message; a new or absent ticket_id opens a ticket."""

    model_config = ConfigDict(json_schema_extra={"examples": [spec_examples.MESSAGE]})

    customer_id: str | None = Field(
        default=None, pattern=ID_PATTERN, examples=["cust_456"], description=CUSTOMER_ID_DOC
    )
    ticket_id: str | None = Field(default=None, pattern=ID_PATTERN, examples=["new"])
    message: str = Field(min_length=1, max_length=4000)
    channel: Channel = "web_chat"
    metadata: MessageMetadata | None = None

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be blank")
        return value


def spec_intent(names: list[str]) -> str:
    """The spec's single ``intent`` field: one name, or ``multi_intent:a+b`` for several."""
    distinct = list(dict.fromkeys(names))
    if not distinct:
        return "unknown"
    return distinct[0] if len(distinct) == 1 else "multi_intent:" + "+".join(distinct)


class IntentOut(BaseModel):
    """One intent of the message."""

    intent: str
    sub_intent: str | None
    confidence: float = Field(description="this intent's calibrated confidence, read on `clause`")
    classifier_used: str
    clause: str | None = Field(
        default=None,
        description="the part of the message this intent was read from (its own clause when "
        "the message asks several things, else the whole message)",
    )


class SourceOut(BaseModel):
    """Evidence the answer rests on."""

    id: str
    kind: str
    title: str
    score: float


class ActionOut(BaseModel):
    """An action the customer can confirm."""

    action_id: str
    action: str
    arguments: dict[str, Any]
    arguments_hash: str
    requires_confirmation: bool = True
    reason: str


class MessageResponse(BaseModel):
    """The agent's answer to one message."""

    ticket_id: str
    message_id: str = Field(description="the stored id of the agent's reply (for CSAT, feedback)")
    customer_message_id: str = Field(description="the stored id of the customer's message")
    turn: int
    response: str
    intent: str = Field(
        description="the message's intent; several read as multi_intent:<first>+<second>...",
        examples=["multi_intent:order_status+refund"],
    )
    confidence: float = Field(description="the primary intent's confidence")
    intents: list[IntentOut]
    actions_available: list[str] = Field(
        description="names of the actions the customer can confirm now",
        examples=[["process_refund"]],
    )
    actions: list[ActionOut] = Field(
        description="the same actions with the arguments and hash each proposal is bound to"
    )
    escalated: bool
    escalation_reason: str | None
    sources: list[SourceOut]
    response_latency_ms: float


ActionName = Literal[
    "process_refund",
    "cancel_order",
    "send_password_reset",
    "update_shipping_address",
    "check_shipping_eta",
]


class ActionRequestBody(BaseModel):
    """A request to execute an action the customer confirmed (or to run a read action)."""

    model_config = ConfigDict(json_schema_extra={"examples": [spec_examples.ACTION]})

    ticket_id: str = Field(pattern=ID_PATTERN)
    customer_id: str | None = Field(
        default=None,
        pattern=ID_PATTERN,
        description="optional: the action is bound to the ticket's customer; if given, it "
        "must be that customer",
    )
    action_type: ActionName | None = Field(
        default=None, description="check_shipping_eta only reads: it needs no confirmation"
    )
    action: ActionName | None = Field(
        default=None, deprecated=True, description="the older name of action_type"
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"order_id": "ORD-789", "amount": "full", "reason": "changed my mind"}],
        description='amount "full" (or left out) refunds what is refundable; reason is the '
        "customer's, kept with the action",
    )
    action_id: str | None = Field(default=None, pattern=ID_PATTERN)
    confirmed_by_customer: bool | None = Field(
        default=None,
        description="true executes; false only proposes; left out, the request executes when "
        "it confirms a proposal the customer was shown and proposes otherwise",
    )

    @field_validator("parameters")
    @classmethod
    def _reason_is_text(cls, value: dict[str, Any]) -> dict[str, Any]:
        reason = value.get("reason")
        if reason is not None and not (isinstance(reason, str) and 0 < len(reason) <= 500):
            raise ValueError("parameters.reason is text of 1-500 characters")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> ActionRequestBody:
        if self.action_type is None and self.action is None:
            raise ValueError("action_type is required")
        if self.action_type and self.action and self.action_type != self.action:
            raise ValueError("action_type and action name different actions")
        return self

    @property
    def action_name(self) -> str:
        """The action asked for, under either name."""
        name = self.action_type or self.action
        assert name is not None
        return name

    @property
    def arguments(self) -> dict[str, Any]:
        """The parameters as the action takes them: amount "full" is the default amount."""
        full = str(self.parameters.get("amount", "")).lower() == "full"
        return {
            key: value
            for key, value in self.parameters.items()
            if key != "reason" and not (full and key == "amount")
        }

    @property
    def reason(self) -> str | None:
        """The customer's reason, if the request gives one."""
        reason = self.parameters.get("reason")
        return reason.strip() or None if isinstance(reason, str) else None


class ActionResponse(BaseModel):
    """The state of an action after the request."""

    action_id: str | None = Field(description="the stored action; null for a read action")
    action_type: str
    action: str = Field(deprecated=True, description="the older name of action_type")
    status: str
    parameters: dict[str, Any]
    reason: str
    rule_id: str
    requires_human: bool
    result: str | None = Field(
        description="what the customer is told once it was carried out; null otherwise",
        examples=[
            "Refund of $1,299.00 initiated for order ORD-789. Expect 5-10 business days for "
            "processing."
        ],
    )
    details: dict[str, Any] | None = Field(description="the stored outcome, field by field")
    error: str | None
    executed_at: datetime | None
    replayed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _both_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            name = data.get("action_type") or data.get("action")
            data = {**data, "action_type": name, "action": name}
        return data


class EscalateRequest(BaseModel):
    """Hand a ticket to a person."""

    model_config = ConfigDict(json_schema_extra={"examples": [spec_examples.ESCALATE]})

    ticket_id: str = Field(pattern=ID_PATTERN)
    customer_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="optional; if given, the ticket's customer"
    )
    reason: str = Field(default="customer asked for a person", min_length=1, max_length=500)
    conversation_summary: str | None = Field(
        default=None, max_length=4000, description="what the caller's app knows; kept in the packet"
    )
    priority: int | str | None = Field(
        default=None,
        description="urgent, high, normal or low, or 1 (most urgent) to 5; stored on the ticket",
        examples=["high"],
    )
    escalation_signals: list[str] | dict[str, Any] | None = Field(
        default=None, description="why the caller escalates; stored with the decision"
    )

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: int | str | None) -> int | str | None:
        if value is None:
            return None
        if isinstance(value, str):
            if value.lower() not in PRIORITY_NAMES:
                raise ValueError(f"priority must be one of {', '.join(PRIORITY_NAMES)} or 1-5")
            return PRIORITY_NAMES[value.lower()]
        if not 1 <= value <= 5:
            raise ValueError("priority must be 1 (most urgent) to 5")
        return value

    @property
    def priority_level(self) -> int | None:
        """The priority as stored: 1 (most urgent) to 5."""
        return int(self.priority) if self.priority is not None else None

    @property
    def signals(self) -> dict[str, Any] | None:
        """The caller's signals as a mapping."""
        if isinstance(self.escalation_signals, list):
            return {"names": self.escalation_signals}
        return self.escalation_signals


PRIORITY_NAMES = {"urgent": 1, "high": 2, "normal": 3, "low": 4}


class EscalateResponse(BaseModel):
    """The handoff that was made, and where the ticket stands now."""

    ticket_id: str
    escalation_id: str = Field(description="the stored escalation decision")
    escalated: bool
    assigned_agent: str | None = Field(description="null while no agent is free: it waits")
    queue_position: int | None = Field(description="1 = next; null once assigned")
    estimated_wait_minutes: float | None = Field(
        description="from measured handling times; null with the reason in estimated_wait_basis"
    )
    estimated_wait_basis: str
    handoff_context_included: bool = Field(description="the packet went with the ticket")
    handoff: dict[str, Any]


class CsatRequest(BaseModel):
    """A customer's satisfaction score for their ticket; a second score replaces the first."""

    ticket_id: str = Field(pattern=ID_PATTERN)
    customer_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="optional; if given, the ticket's customer"
    )
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")


class CsatResponse(BaseModel):
    """The score now stored, and the one it replaced."""

    ticket_id: str
    score: int
    previous_score: int | None


class TopIntentOut(BaseModel):
    """A frequent primary intent and the share of its tickets the AI resolved."""

    intent: str
    count: int
    auto_resolved_pct: float = Field(
        description="share of the intent's tickets the AI resolved, a fraction 0-1 (0.92)"
    )


class EscalationReasonOut(BaseModel):
    """How many escalated tickets one rule sent to a person."""

    rule_id: str = Field(
        description="the rule of the ticket's first escalating decision (score.<signal>, "
        "escalate.always.<rule>, escalate.customer ...); unrecorded when none is stored",
        examples=["escalate.customer"],
    )
    count: int


class CascadeTierOut(BaseModel):
    """How many primary intent classifications one tier of the cascade made."""

    tier: str = Field(description="rules, embedding, llm, fallback (IntentClassification)")
    count: int
    share: float | None = Field(
        description="a fraction 0-1 of the group's primary classifications; null without any"
    )


class KnowledgeGapOut(BaseModel):
    """A question the help centre could not answer, counted once however often it was asked."""

    question: str = Field(examples=["do you have student discounts?"])
    intent: str = Field(examples=["faq"])
    count: int = Field(description="how often it was asked in the period")
    tickets: int = Field(description="in how many tickets")
    nearest_source_id: str | None = Field(
        description="the closest article found, which did not answer it; null when none was"
    )
    last_asked_at: datetime


class DailyFigures(BaseModel):
    """One UTC day of the period, by ticket creation day; a day without tickets has zeros."""

    date: date
    total_tickets: int
    ai_resolved: int
    escalated: int
    pending: int
    deflection_rate: float | None = Field(
        description="ai_resolved / total_tickets; null on a day without tickets"
    )
    verified_resolution_rate: float | None = Field(
        description="over the day's AI resolutions decided so far; null when none is"
    )
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    cost_savings_usd: float


class AnalyticsFigures(BaseModel):
    """The figures of a group of tickets; a mean over no values is null."""

    total_tickets: int
    ai_resolved: int
    escalated: int
    pending: int
    deflection_rate: float = Field(description="ai_resolved / total_tickets (0 without tickets)")
    avg_ai_response_ms: float | None
    latency_p50_ms: float | None = Field(
        description="median latency of the AI's replies (linear interpolation); null without any"
    )
    latency_p95_ms: float | None = Field(description="95th percentile of the same latencies")
    avg_csat_ai: float | None
    avg_csat_human: float | None
    cost_savings_usd: float = Field(
        description="human cost of the AI resolutions less the AI's cost on every ticket"
    )
    human_cost_avoided_usd: float
    ai_cost_usd: float = Field(description="per-ticket compute cost plus stored LLM tokens")
    prompt_tokens: int
    completion_tokens: int
    top_intents: list[TopIntentOut]
    verified_resolution_rate: float | None = Field(
        description="verified / (verified + returned); AI resolutions still in their window "
        "are left out and counted in verified_resolution_pending"
    )
    verified_resolutions: int
    verified_resolution_returned: int
    verified_resolution_pending: int
    escalation_reasons: list[EscalationReasonOut] = Field(
        description="escalated tickets per rule, most first; the counts add up to escalated"
    )
    cascade_tiers: list[CascadeTierOut] = Field(
        description="primary classifications per cascade tier, in cascade order"
    )


class VariantAnalytics(AnalyticsFigures):
    """The figures of the tickets served one A/B variant (null: none recorded)."""

    variant: str | None


class AnalyticsPeriod(BaseModel):
    """The creation times covered: start inclusive, end exclusive."""

    start: datetime
    end: datetime


class AnalyticsResponse(AnalyticsFigures):
    """Figures over tickets created in the period, overall and per A/B variant."""

    period: str = Field(
        description='the period asked for ("7d", "24h", "4w"), or "custom" for start/end',
        examples=["7d"],
    )
    window: AnalyticsPeriod = Field(description="the creation times the period covers")
    auto_resolved_pct: float = Field(
        description="the share of tickets the AI resolved, as a fraction (deflection_rate)",
        examples=[0.72],
    )
    verified_resolution_days: int
    daily: list[DailyFigures] = Field(description="every UTC day the period touches, in order")
    knowledge_gap_questions: int = Field(
        description="questions asked in the period that the help centre could not answer"
    )
    knowledge_gaps: list[KnowledgeGapOut] = Field(
        description="those questions, one row per question, the most asked first (at most 50): "
        "the articles to write next"
    )
    by_variant: list[VariantAnalytics]
