"""The result every policy check returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class PolicyDecision:
    """A decision with the rule that made it and a reason a customer can read.

    ``requires_human`` means the action is allowed only with a human's approval.
    """

    allowed: bool
    rule_id: str
    reason: str
    requires_human: bool = False
    amount: Decimal | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """A JSON-safe view for storage and for the human agent."""
        return {
            "allowed": self.allowed,
            "rule_id": self.rule_id,
            "reason": self.reason,
            "requires_human": self.requires_human,
            "amount": str(self.amount) if self.amount is not None else None,
            "details": self.details,
        }


def allow(rule_id: str, reason: str, **kwargs: Any) -> PolicyDecision:
    """An allowing decision."""
    return PolicyDecision(True, rule_id, reason, **kwargs)


def deny(rule_id: str, reason: str, **kwargs: Any) -> PolicyDecision:
    """A denying decision."""
    return PolicyDecision(False, rule_id, reason, **kwargs)
