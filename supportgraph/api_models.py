"""Request and response models of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
Channel = Literal["web_chat", "mobile", "email", "sms", "voice", "api"]


class MessageRequest(BaseModel):
    """A customer message; a new or absent ticket_id opens a ticket."""

    customer_id: str = Field(pattern=ID_PATTERN, examples=["cust_456"])
    ticket_id: str | None = Field(default=None, pattern=ID_PATTERN, examples=["new"])
    message: str = Field(min_length=1, max_length=4000)
    channel: Channel = "web_chat"

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be blank")
        return value


class IntentOut(BaseModel):
    """One intent of the message."""

    intent: str
    sub_intent: str | None
    confidence: float
    classifier_used: str


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
    turn: int
    response: str
    intent: str
    confidence: float
    intents: list[IntentOut]
    actions_available: list[ActionOut]
    escalated: bool
    escalation_reason: str | None
    sources: list[SourceOut]
    response_latency_ms: float


class ActionRequestBody(BaseModel):
    """A request to execute an action the customer confirmed."""

    ticket_id: str = Field(pattern=ID_PATTERN)
    customer_id: str = Field(pattern=ID_PATTERN)
    action: Literal[
        "process_refund", "cancel_order", "send_password_reset", "update_shipping_address"
    ]
    parameters: dict[str, Any] = Field(default_factory=dict, examples=[{"order_id": "ORD-789"}])
    action_id: str | None = Field(default=None, pattern=ID_PATTERN)
    confirmed_by_customer: bool = False


class ActionResponse(BaseModel):
    """The state of an action after the request."""

    action_id: str
    action: str
    status: str
    parameters: dict[str, Any]
    reason: str
    rule_id: str
    requires_human: bool
    result: dict[str, Any] | None
    error: str | None
    executed_at: datetime | None
    replayed: bool = False


class EscalateRequest(BaseModel):
    """Hand a ticket to a person."""

    ticket_id: str = Field(pattern=ID_PATTERN)
    customer_id: str = Field(pattern=ID_PATTERN)
    reason: str = Field(default="customer asked for a person", min_length=1, max_length=500)


class EscalateResponse(BaseModel):
    """The handoff that was made."""

    ticket_id: str
    escalated: bool
    handoff: dict[str, Any]
