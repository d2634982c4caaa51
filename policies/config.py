"""Typed policy configuration, loaded from a TOML file that operators edit."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.toml")


class FrozenConfig(BaseModel):
    """A configuration section: immutable, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RefundPolicy(FrozenConfig):
    """Refund limits."""

    window_days: int = Field(ge=0)
    auto_approve_ceiling: Decimal = Field(ge=0)
    daily_cap: Decimal = Field(ge=0)
    refundable_statuses: frozenset[str]
    days_to_appear: tuple[int, int] = (5, 10)


class OrderPolicy(FrozenConfig):
    """What each order status allows."""

    cancellable_statuses: frozenset[str]
    address_change_statuses: frozenset[str]
    min_address_chars: int = Field(default=10, ge=1)


class ShippingPolicy(FrozenConfig):
    """How long orders take, in business days: (fewest, most)."""

    processing_days: tuple[int, int]
    transit_days: dict[str, tuple[int, int]]


class EscalationPolicy(FrozenConfig):
    """Hard escalation rules."""

    always_escalate: frozenset[str]
    max_turns_before_handoff: int = Field(ge=1)


class PolicyConfig(FrozenConfig):
    """All policy settings."""

    refunds: RefundPolicy
    orders: OrderPolicy
    shipping: ShippingPolicy
    escalation: EscalationPolicy


@lru_cache(maxsize=8)
def load_policy_config(path: Path = DEFAULT_POLICY_FILE) -> PolicyConfig:
    """Read and validate a policy file."""
    with path.open("rb") as handle:
        return PolicyConfig.model_validate(tomllib.load(handle))
