"""Analytics computed from the stored records only, and the CSAT score a customer gives.

The I/O is in ``load_period`` (the period's tickets, then their messages, classifications
and escalation decisions, then the customers' later tickets); everything else is a pure
function over those rows, so each figure can be checked against records inserted for the
purpose. A mean over no values is ``None``: nothing here is invented.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import fmean
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from supportgraph.analytics_series import (
    escalation_reasons,
    latency_percentiles,
    tier_shares,
    utc_day,
    utc_days,
)
from supportgraph.db.engine import session_scope
from supportgraph.db.models import (
    CustomerMessage,
    EscalationDecision,
    IntentClassification,
    KnowledgeGap,
    SupportTicket,
    TicketStatus,
)
from supportgraph.knowledge_gaps import gap_list
from supportgraph.settings import Settings

PENDING = frozenset({TicketStatus.OPEN, TicketStatus.AWAITING_CUSTOMER})
CENT = Decimal("0.01")
Outcome = Literal["verified", "returned", "pending"]


class TicketNotFound(LookupError):
    """An unknown ticket, or one that belongs to another customer (the two look alike)."""


@dataclass(frozen=True)
class Prices:
    """What a ticket costs: a person's handling, and the AI's compute and tokens."""

    human_per_ticket: Decimal
    ai_per_ticket: Decimal = Decimal(0)
    prompt_per_1k: Decimal = Decimal(0)
    completion_per_1k: Decimal = Decimal(0)

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        """The configured price table."""
        return cls(
            human_per_ticket=Decimal(str(settings.human_cost_per_ticket_usd)),
            ai_per_ticket=Decimal(str(settings.ai_cost_per_ticket_usd)),
            prompt_per_1k=Decimal(str(settings.llm_prompt_price_per_1k_tokens_usd)),
            completion_per_1k=Decimal(str(settings.llm_completion_price_per_1k_tokens_usd)),
        )

    def ai_cost(self, tickets: int, prompt_tokens: int, completion_tokens: int) -> Decimal:
        """The AI's cost of handling some tickets that used these tokens."""
        return (
            self.ai_per_ticket * tickets
            + self.prompt_per_1k * prompt_tokens / 1000
            + self.completion_per_1k * completion_tokens / 1000
        )


@dataclass
class Usage:
    """What a ticket's turns recorded.

    AI reply latencies, LLM tokens, the cascade tier of each primary classification, and
    the rule of the first decision that escalated it.
    """

    latencies_ms: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tiers: list[str] = field(default_factory=list)
    escalation_rule: str | None = None


@dataclass
class PeriodRecords:
    """The rows one analytics answer is computed from."""

    tickets: list[SupportTicket]
    usage: dict[str, Usage]
    later_tickets: list[SupportTicket]
    knowledge_gaps: list[KnowledgeGap] = field(default_factory=list)


def _mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return round(fmean(found), 3) if found else None


def is_ai_resolved(ticket: SupportTicket) -> bool:
    """Resolved, and by the AI."""
    return ticket.status == TicketStatus.RESOLVED and ticket.resolved_by == "ai"


PERIOD_PATTERN = r"^(?:(\d{1,4})([hdw])|last_(\d{1,4})_(hours|days|weeks))$"
PERIOD_UNITS = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}
DEFAULT_PERIOD = "30d"


def period_length(period: str) -> timedelta:
    """How long a period such as ``24h``, ``7d``, ``4w`` or ``last_30_days`` is (it ends now)."""
    match = re.match(PERIOD_PATTERN, period)
    count, unit = (
        (match.group(1) or match.group(3), match.group(2) or match.group(4)) if match else ("0", "")
    )
    if int(count) == 0:
        raise ValueError(f"period {period!r} is not a count of h, d or w, for example 7d")
    return int(count) * PERIOD_UNITS[unit]


def load_period(engine: Engine, *, start: datetime, end: datetime) -> PeriodRecords:
    """Tickets created in ``[start, end)``, what their turns recorded, and later tickets.

    Knowledge gaps are the questions asked in ``[start, end)`` that nothing answered.
    """
    with Session(engine) as session:
        tickets = list(
            session.exec(
                select(SupportTicket).where(
                    SupportTicket.created_at >= start, SupportTicket.created_at < end
                )
            ).all()
        )
        usage = _turn_usage(session, [t.id for t in tickets])
        customers = {t.customer_id for t in tickets if is_ai_resolved(t)}
        # A return visit may come after the period ends: it is looked up without an end.
        later = session.exec(
            select(SupportTicket).where(
                col(SupportTicket.customer_id).in_(customers), SupportTicket.created_at >= start
            )
        ).all()
        gaps = session.exec(
            select(KnowledgeGap).where(
                KnowledgeGap.created_at >= start, KnowledgeGap.created_at < end
            )
        ).all()
    return PeriodRecords(
        tickets=tickets, usage=usage, later_tickets=list(later), knowledge_gaps=list(gaps)
    )


def _turn_usage(session: Session, ids: list[str]) -> dict[str, Usage]:
    """Per ticket: its messages' latencies and tokens, its tiers, its first escalating rule."""
    messages = session.exec(
        select(CustomerMessage).where(col(CustomerMessage.ticket_id).in_(ids))
    ).all()
    classifications = session.exec(
        select(IntentClassification.ticket_id, IntentClassification.classifier_used).where(
            col(IntentClassification.ticket_id).in_(ids), col(IntentClassification.is_primary)
        )
    ).all()
    escalations = session.exec(
        select(EscalationDecision.ticket_id, EscalationDecision.rule_id)
        .where(col(EscalationDecision.ticket_id).in_(ids), col(EscalationDecision.escalate))
        .order_by(col(EscalationDecision.created_at))
    ).all()
    usage: dict[str, Usage] = defaultdict(Usage)
    for message in messages:
        entry = usage[message.ticket_id]
        if message.role == "ai" and message.response_latency_ms is not None:
            entry.latencies_ms.append(message.response_latency_ms)
        entry.prompt_tokens += message.prompt_tokens or 0
        entry.completion_tokens += message.completion_tokens or 0
    for ticket_id, tier in classifications:
        usage[ticket_id].tiers.append(tier)
    for ticket_id, rule_id in reversed(escalations):  # the earliest is written last
        usage[ticket_id].escalation_rule = rule_id
    return dict(usage)


def resolution_outcome(
    ticket: SupportTicket, later: Sequence[SupportTicket], *, days: int, now: datetime
) -> Outcome:
    """Whether an AI resolution held: no new ticket by the customer on the same intent in time.

    The window runs ``days`` from the resolution (its creation when no resolution time is
    stored). A return inside it is ``returned`` at once; no return with the window still open
    is ``pending``, not verified.
    """
    resolved_at = ticket.resolved_at or ticket.created_at
    window_end = resolved_at + timedelta(days=days)
    for other in later:
        if (
            other.id != ticket.id
            and other.customer_id == ticket.customer_id
            and other.primary_intent == ticket.primary_intent
            and ticket.created_at < other.created_at <= window_end
        ):
            return "returned"
    return "pending" if now < window_end else "verified"


def cost_figures(
    tickets: Sequence[SupportTicket], usage: dict[str, Usage], prices: Prices
) -> dict[str, Any]:
    """Savings: a person's cost for each AI resolution, less the AI's cost on every ticket."""
    prompt = sum(usage[t.id].prompt_tokens for t in tickets if t.id in usage)
    completion = sum(usage[t.id].completion_tokens for t in tickets if t.id in usage)
    ai_cost = prices.ai_cost(len(tickets), prompt, completion)
    avoided = prices.human_per_ticket * sum(1 for t in tickets if is_ai_resolved(t))
    return {
        "cost_savings_usd": float((avoided - ai_cost).quantize(CENT)),
        "human_cost_avoided_usd": float(avoided.quantize(CENT)),
        "ai_cost_usd": float(ai_cost.quantize(Decimal("0.000001"))),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
    }


def top_intents(tickets: Sequence[SupportTicket], limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent primary intents, with the share the AI resolved (a fraction)."""
    counts = Counter(t.primary_intent for t in tickets if t.primary_intent)
    resolved = Counter(t.primary_intent for t in tickets if t.primary_intent and is_ai_resolved(t))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [
        {
            "intent": intent,
            "count": count,
            "auto_resolved_pct": round(resolved[intent] / count, 4),
        }
        for intent, count in ranked
    ]


def verification_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The verified resolution rate over the AI resolutions whose window has closed (or failed)."""
    verified = outcomes.count("verified")
    decided = verified + outcomes.count("returned")
    return {
        "verified_resolution_rate": round(verified / decided, 4) if decided else None,
        "verified_resolutions": verified,
        "verified_resolution_returned": outcomes.count("returned"),
        "verified_resolution_pending": outcomes.count("pending"),
    }


def ticket_counts(tickets: Sequence[SupportTicket]) -> dict[str, Any]:
    """How many tickets, how many the AI resolved, escalated, still pending; the deflection."""
    total = len(tickets)
    ai_resolved = sum(1 for t in tickets if is_ai_resolved(t))
    return {
        "total_tickets": total,
        "ai_resolved": ai_resolved,
        "escalated": sum(1 for t in tickets if t.escalated_at is not None),
        "pending": sum(1 for t in tickets if t.status in PENDING),
        "deflection_rate": round(ai_resolved / total, 4) if total else 0.0,
    }


def _latencies(tickets: Sequence[SupportTicket], usage: dict[str, Usage]) -> list[float]:
    return [ms for t in tickets if t.id in usage for ms in usage[t.id].latencies_ms]


def figures(
    tickets: Sequence[SupportTicket],
    usage: dict[str, Usage],
    outcomes: dict[str, Outcome],
    prices: Prices,
) -> dict[str, Any]:
    """Every figure of one group of tickets (the whole period, or one A/B variant)."""
    ai_resolved = [t for t in tickets if is_ai_resolved(t)]
    latencies = _latencies(tickets, usage)
    return {
        **ticket_counts(tickets),
        "avg_ai_response_ms": _mean(latencies),
        **latency_percentiles(latencies),
        "avg_csat_ai": _mean(t.csat_score for t in ai_resolved if t.csat_score is not None),
        "avg_csat_human": _mean(
            t.csat_score for t in tickets if t.resolved_by == "human" and t.csat_score is not None
        ),
        **cost_figures(tickets, usage, prices),
        "top_intents": top_intents(tickets),
        **verification_figures([outcomes[t.id] for t in ai_resolved]),
        "escalation_reasons": escalation_reasons(
            usage[t.id].escalation_rule if t.id in usage else None
            for t in tickets
            if t.escalated_at is not None
        ),
        "cascade_tiers": tier_shares(
            tier for t in tickets if t.id in usage for tier in usage[t.id].tiers
        ),
    }


def daily_series(
    records: PeriodRecords,
    outcomes: dict[str, Outcome],
    prices: Prices,
    *,
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    """One row per UTC day of ``[start, end)`` by creation day; a day without tickets has zeros.

    A rate or percentile over nothing is None (deflection included, unlike the period's 0.0),
    so a chart shows a day without tickets as a gap, not as a day the AI resolved none.
    """
    by_day: dict[date, list[SupportTicket]] = defaultdict(list)
    for ticket in records.tickets:
        by_day[utc_day(ticket.created_at)].append(ticket)
    rows = []
    for day in utc_days(start, end):
        group = by_day.get(day, [])
        counts = ticket_counts(group)
        verified = verification_figures([outcomes[t.id] for t in group if is_ai_resolved(t)])
        rows.append(
            {
                "date": day.isoformat(),
                **counts,
                "deflection_rate": counts["deflection_rate"] if group else None,
                "verified_resolution_rate": verified["verified_resolution_rate"],
                **latency_percentiles(_latencies(group, records.usage)),
                "cost_savings_usd": cost_figures(group, records.usage, prices)["cost_savings_usd"],
            }
        )
    return rows


def compute_analytics(
    engine: Engine,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    prices: Prices,
    verified_days: int,
) -> dict[str, Any]:
    """The figures for tickets created in ``[start, end)``, overall and per A/B variant."""
    records = load_period(engine, start=start, end=end)
    outcomes = {
        t.id: resolution_outcome(t, records.later_tickets, days=verified_days, now=now)
        for t in records.tickets
        if is_ai_resolved(t)
    }
    variants: dict[str | None, list[SupportTicket]] = defaultdict(list)
    for ticket in records.tickets:
        variants[ticket.ab_variant].append(ticket)
    return {
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "verified_resolution_days": verified_days,
        **figures(records.tickets, records.usage, outcomes, prices),
        "daily": daily_series(records, outcomes, prices, start=start, end=end),
        "knowledge_gap_questions": len(records.knowledge_gaps),
        "knowledge_gaps": gap_list(records.knowledge_gaps),
        "by_variant": [
            {"variant": variant, **figures(group, records.usage, outcomes, prices)}
            for variant, group in sorted(variants.items(), key=lambda item: item[0] or "")
        ],
    }


def record_csat(engine: Engine, *, ticket_id: str, customer_id: str, score: int) -> int | None:
    """Store a customer's 1-5 score on their ticket; a later score replaces an earlier one.

    Only ``csat_score`` changes. Returns the score it replaced.

    Raises:
        TicketNotFound: no such ticket, or it is another customer's.

    """
    with session_scope(engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        if ticket is None or ticket.customer_id != customer_id:
            raise TicketNotFound(f"ticket {ticket_id} not found for customer {customer_id}")
        previous = ticket.csat_score
        ticket.csat_score = score
        session.add(ticket)
    return previous
