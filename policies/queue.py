"""The human queue: which escalated ticket a person should take next, and how long a wait is.

Pure functions over typed inputs; the weights are data in ``queue.toml``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from statistics import fmean

from pydantic import Field

from policies.config import FrozenConfig

DEFAULT_QUEUE_FILE = Path(__file__).with_name("queue.toml")
ANY_SKILL = "*"
# Intents that say nothing about the subject: any agent can take such a ticket.
GENERAL_INTENTS = frozenset({"human_agent", "unknown"})


class QueueWeights(FrozenConfig):
    """How much each term counts in the priority."""

    sentiment: float = Field(ge=0)
    waiting: float = Field(ge=0)
    order_value: float = Field(ge=0)


class QueueSaturation(FrozenConfig):
    """Where the waiting and order-value terms reach 1."""

    waiting_minutes: float = Field(gt=0)
    order_value: float = Field(gt=0)


class UrgentRules(FrozenConfig):
    """Escalation rules whose tickets jump the queue."""

    rules: frozenset[str] = frozenset()
    boost: float = Field(default=1.0, ge=0)


class EstimateWindow(FrozenConfig):
    """Which resolutions the wait estimate measures."""

    recent_resolutions: int = Field(ge=1)
    max_age_days: int = Field(ge=1)


class QueueConfig(FrozenConfig):
    """All queue settings."""

    weights: QueueWeights
    saturation: QueueSaturation
    urgent: UrgentRules
    estimate: EstimateWindow


@lru_cache(maxsize=4)
def load_queue_config(path: Path = DEFAULT_QUEUE_FILE) -> QueueConfig:
    """Read and validate a queue file."""
    with path.open("rb") as handle:
        return QueueConfig.model_validate(tomllib.load(handle))


@dataclass(frozen=True)
class QueueItem:
    """What the priority of one escalated ticket is computed from."""

    ticket_id: str
    negative_sentiment: float  # 0 (neutral or happy) to 1 (as negative as it gets)
    waited_s: float
    order_value: Decimal = Decimal(0)
    rule_id: str | None = None
    intent: str | None = None


@dataclass(frozen=True)
class Priority:
    """A ticket's priority and what each term contributed to it."""

    score: float
    contributions: dict[str, float]


TERMS = ("sentiment", "waiting", "order_value", "urgent")


def priority(item: QueueItem, config: QueueConfig) -> Priority:
    """Weighted sum of sentiment, waiting time and order value (each in [0, 1]), plus urgency."""
    contributions = dict(zip(TERMS, _contributions(item, config), strict=True))
    return Priority(round(sum(contributions.values()), 4), contributions)


def _contributions(item: QueueItem, config: QueueConfig) -> tuple[float, float, float, float]:
    weights, saturation = config.weights, config.saturation
    return (
        round(weights.sentiment * min(1.0, max(0.0, item.negative_sentiment)), 4),
        round(
            weights.waiting * min(1.0, max(0.0, item.waited_s) / 60 / saturation.waiting_minutes), 4
        ),
        round(
            weights.order_value
            * min(1.0, max(0.0, float(item.order_value)) / saturation.order_value),
            4,
        ),
        config.urgent.boost if item.rule_id in config.urgent.rules else 0.0,
    )


def priority_score(item: QueueItem, config: QueueConfig) -> float:
    """``priority(item, config).score`` without the breakdown (the queue's hot path)."""
    return round(sum(_contributions(item, config)), 4)


def rank_key(item: QueueItem, score: float) -> tuple[float, float, str]:
    """Sorts best first: by priority, then the longest wait, then ticket id (a stable order)."""
    return (-score, -item.waited_s, item.ticket_id)


def rank(items: Iterable[QueueItem], config: QueueConfig) -> list[tuple[QueueItem, Priority]]:
    """Items best first (``rank_key``)."""
    scored = [(item, priority(item, config)) for item in items]
    return sorted(scored, key=lambda pair: rank_key(pair[0], pair[1].score))


def can_take(skills: Iterable[str], intent: str | None) -> bool:
    """Whether an agent with these skills can take a ticket of this primary intent."""
    skills = set(skills)
    return ANY_SKILL in skills or intent is None or intent in GENERAL_INTENTS or intent in skills


@dataclass(frozen=True)
class AgentSlot:
    """An active agent as assignment sees them."""

    agent_id: str
    skills: tuple[str, ...]
    capacity: int
    load: int


def free_agents(agents: Iterable[AgentSlot], intent: str | None) -> list[str]:
    """Agents who can take the ticket now, the least loaded first (ties by id)."""
    eligible = [a for a in agents if a.load < a.capacity and can_take(a.skills, intent)]
    return [a.agent_id for a in sorted(eligible, key=lambda a: (a.load / a.capacity, a.agent_id))]


@dataclass(frozen=True)
class WaitEstimate:
    """An estimated wait in seconds, or None with the reason it cannot be measured."""

    seconds: float | None
    basis: str
    samples: int = 0
    mean_handling_s: float | None = None


def estimate_wait(
    *, ahead: int, free_slots: int, capacity: int, handling_s: Sequence[float]
) -> WaitEstimate:
    """How long until a person takes a ticket, from measured handling times.

    Args:
        ahead: Tickets before this one that the same agents could take.
        free_slots: Open slots of those agents now (capacity less their assigned tickets).
        capacity: Total capacity of those agents (tickets they handle at once).
        handling_s: Measured handling times (claimed → resolved) of recent resolutions.

    Returns:
        Zero when a slot is free for it; otherwise the tickets that must finish first times
        the mean handling time, shared over the capacity. None when nothing was measured yet or
        no active agent can take the ticket.

    """
    if capacity <= 0:
        return WaitEstimate(None, "no active agent can take this ticket")
    if not handling_s:
        return WaitEstimate(None, "no resolved tickets with measured handling times yet")
    mean = fmean(handling_s)
    samples = len(handling_s)
    if ahead < free_slots:
        return WaitEstimate(0.0, "an agent has a free slot", samples, round(mean, 1))
    must_finish = ahead - max(0, free_slots) + 1
    seconds = round(must_finish * mean / capacity, 1)
    basis = f"{must_finish} ticket(s) to finish at {capacity} at a time"
    return WaitEstimate(seconds, basis, samples, round(mean, 1))
