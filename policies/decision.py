"""The result every policy check returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class PolicyDecision:
    """A decision with the rule that made it and a reason a customer can read.

    ``requires_human`` means the action is allowed only with a human's approval.
    ``inputs`` are the facts the rule looked at, kept for the human agent and the audit.
    """

    allowed: bool
    rule_id: str
    reason: str
    requires_human: bool = False
    amount: Decimal | None = None
    details: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)

    def with_inputs(self, **inputs: Any) -> PolicyDecision:
        """The same decision carrying the inputs it was made on (JSON-safe strings)."""
        return replace(self, inputs={key: _plain(value) for key, value in inputs.items()})

    def as_record(self) -> dict[str, Any]:
        """A JSON-safe view for storage and for the human agent."""
        return {
            "allowed": self.allowed,
            "rule_id": self.rule_id,
            "reason": self.reason,
            "requires_human": self.requires_human,
            "amount": str(self.amount) if self.amount is not None else None,
            "details": self.details,
            "inputs": self.inputs,
        }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def allow(rule_id: str, reason: str, **kwargs: Any) -> PolicyDecision:
    """An allowing decision."""
    return PolicyDecision(True, rule_id, reason, **kwargs)


def deny(rule_id: str, reason: str, **kwargs: Any) -> PolicyDecision:
    """A denying decision."""
    return PolicyDecision(False, rule_id, reason, **kwargs)
