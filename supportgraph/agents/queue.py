"""The queue of escalated tickets, from stored records: order, position and estimated wait."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from policies.queue import (
    Priority,
    QueueConfig,
    QueueItem,
    WaitEstimate,
    can_take,
    estimate_wait,
    load_queue_config,
    priority,
    priority_score,
    rank,
    rank_key,
)
from supportgraph.agents.models import SupportAgent
from supportgraph.commerce.backend import CommerceBackend
from supportgraph.db.engine import session_scope
from supportgraph.db.models import EscalationDecision, SupportTicket, TicketStatus, utcnow
from supportgraph.services import Services
from supportgraph.text import order_ids


@dataclass(frozen=True)
class QueueEntry:
    """One waiting ticket: its place in the queue and how long it is expected to wait."""

    item: QueueItem
    priority: Priority
    position: int  # 1-based, over the whole queue
    estimate: WaitEstimate


def aware(moment: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def handling_times(session: Session, config: QueueConfig, now: datetime) -> list[float]:
    """Seconds from claim to resolution of the most recent human resolutions."""
    window = config.estimate
    rows = session.exec(
        select(SupportTicket.assigned_at, SupportTicket.resolved_at)
        .where(
            SupportTicket.status == TicketStatus.RESOLVED,
            SupportTicket.resolved_by == "human",
            col(SupportTicket.assigned_at).is_not(None),
            col(SupportTicket.resolved_at) >= now - timedelta(days=window.max_age_days),
        )
        .order_by(col(SupportTicket.resolved_at).desc())
        .limit(window.recent_resolutions)
    ).all()
    return [
        max(0.0, (aware(resolved) - aware(assigned)).total_seconds())
        for assigned, resolved in rows
        if assigned is not None and resolved is not None
    ]


def negative_sentiments(session: Session, ticket_ids: Sequence[str]) -> dict[str, float]:
    """The most negative sentiment the gate measured in each ticket (0 when never measured)."""
    worst: dict[str, float] = dict.fromkeys(ticket_ids, 0.0)
    if not ticket_ids:
        return worst
    decisions = session.exec(
        select(EscalationDecision).where(col(EscalationDecision.ticket_id).in_(ticket_ids))
    ).all()
    for decision in decisions:
        signal = decision.signals.get("negative_sentiment")
        if isinstance(signal, dict) and isinstance(signal.get("value"), int | float):
            worst[decision.ticket_id] = max(worst[decision.ticket_id], float(signal["value"]))
    return worst


def order_value(backend: CommerceBackend, customer_id: str, order_ids: Iterable[str]) -> Decimal:
    """The largest total of the customer's own orders named; another customer's counts nothing."""
    values = [Decimal(0)]
    for order_id in order_ids:
        order = backend.get_order(order_id)
        if order is not None and order.customer_id == customer_id:
            values.append(order.total)
    return max(values)


def packet_order_ids(packet: dict[str, Any]) -> list[str]:
    """Orders the packet names: its entities and any the customer wrote in the conversation."""
    lines = [
        *(line["content"] for line in packet.get("transcript", []) if line["role"] == "customer"),
        *(line["content"] for line in packet.get("messages_while_waiting", [])),
    ]
    found = list((packet.get("entities") or {}).get("order_ids", []))
    found += [order_id for line in lines for order_id in order_ids(line)]
    return list(dict.fromkeys(found))


def record_queue_inputs(session: Session, backend: CommerceBackend, ticket: SupportTicket) -> None:
    """Store on a ticket being handed off what the queue ranks it by.

    Computed once per handoff so that ranking reads one narrow row per waiting ticket: reading
    every packet, gate decision and order instead made each handoff take 80-320 ms with 331
    tickets waiting, and grew with the queue.
    """
    packet = ticket.handoff_summary or {}
    ticket.queue_sentiment = negative_sentiments(session, [ticket.id])[ticket.id]
    value = order_value(backend, ticket.customer_id, packet_order_ids(packet))
    ticket.queue_order_value_cents = int(value * 100)
    ticket.queue_rule_id = packet.get("rule_id")


def fill_queue_inputs(services: Services) -> int:
    """Record the queue inputs of waiting tickets stored without them (an older version's)."""
    with session_scope(services.engine) as session:
        tickets = session.exec(
            select(SupportTicket).where(
                SupportTicket.status == TicketStatus.ESCALATED,
                col(SupportTicket.queue_sentiment).is_(None),
            )
        ).all()
        for ticket in tickets:
            record_queue_inputs(session, services.backend, ticket)
            session.add(ticket)
        return len(tickets)


def queued_items(session: Session, now: datetime) -> list[QueueItem]:
    """Every escalated ticket that no agent has claimed, as priority inputs.

    Read as plain rows of the few columns ranking needs: loading them as ORM objects was half
    of a handoff's cost with a thousand tickets waiting.
    """
    # The moment is read as the driver hands it (text on SQLite) and parsed here:
    # SQLAlchemy's own SQLite datetime parsing was a third of reading a long queue.
    since = type_coerce(
        func.coalesce(col(SupportTicket.escalated_at), col(SupportTicket.updated_at)), String
    )
    rows = session.connection().execute(
        sa_select(
            col(SupportTicket.id),
            since,
            col(SupportTicket.primary_intent),
            col(SupportTicket.queue_sentiment),
            col(SupportTicket.queue_order_value_cents),
            col(SupportTicket.queue_rule_id),
        ).where(col(SupportTicket.status) == TicketStatus.ESCALATED)
    )
    return [
        QueueItem(
            ticket_id=ticket_id,
            negative_sentiment=sentiment or 0.0,
            waited_s=max(0.0, (now - _moment(since)).total_seconds()),
            order_value=_money(cents),
            rule_id=rule_id,
            intent=intent,
        )
        for ticket_id, since, intent, sentiment, cents, rule_id in rows
    ]


def queue_depth(services: Services, now: datetime | None = None) -> tuple[int, float]:
    """How many escalated tickets wait unclaimed, and the longest wait in seconds (0 if none)."""
    now = now or utcnow()
    since = func.min(func.coalesce(col(SupportTicket.escalated_at), col(SupportTicket.updated_at)))
    with Session(services.engine) as session:
        waiting, oldest = (
            session.connection()
            .execute(
                sa_select(func.count(), since).where(
                    col(SupportTicket.status) == TicketStatus.ESCALATED
                )
            )
            .one()
        )
    if not waiting or oldest is None:
        return int(waiting or 0), 0.0
    if isinstance(oldest, str):  # SQLite hands an aggregate back as text
        oldest = datetime.fromisoformat(oldest)
    return int(waiting), max(0.0, (now - aware(oldest)).total_seconds())


def _moment(value: datetime | str) -> datetime:
    return aware(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _money(cents: int | None) -> Decimal:
    return Decimal(cents).scaleb(-2) if cents else Decimal(0)


def agent_loads(session: Session) -> dict[str, int]:
    """How many tickets each agent holds now."""
    loads: dict[str, int] = {}
    for agent_id in session.exec(
        select(SupportTicket.assigned_agent_id).where(SupportTicket.status == TicketStatus.ASSIGNED)
    ).all():
        if agent_id is not None:
            loads[agent_id] = loads.get(agent_id, 0) + 1
    return loads


@dataclass(frozen=True)
class _Takers:
    """Per intent: the agents who can take it, and their free slots and total capacity."""

    agents: dict[str | None, frozenset[str]]
    slots: dict[str | None, tuple[int, int]]

    @classmethod
    def of(
        cls,
        intents: Iterable[str | None],
        agents: Sequence[SupportAgent],
        loads: dict[str, int],
    ) -> _Takers:
        takers: dict[str | None, frozenset[str]] = {}
        slots: dict[str | None, tuple[int, int]] = {}
        for intent in set(intents):
            eligible = [agent for agent in agents if can_take(agent.skills, intent)]
            takers[intent] = frozenset(agent.id for agent in eligible)
            free = sum(max(0, agent.capacity - loads.get(agent.id, 0)) for agent in eligible)
            slots[intent] = (free, sum(agent.capacity for agent in eligible))
        return cls(takers, slots)

    def estimate(
        self, intent: str | None, ahead: Counter[str | None], handling_s: Sequence[float]
    ) -> WaitEstimate:
        """The wait of a ticket of ``intent`` behind ``ahead`` (tickets per intent)."""
        mine = self.agents[intent]
        free, capacity = self.slots[intent]
        shared = sum(n for other, n in ahead.items() if self.agents[other] & mine)
        return estimate_wait(
            ahead=shared, free_slots=free, capacity=capacity, handling_s=handling_s
        )


def _estimates(
    ranked: Sequence[tuple[QueueItem, Priority]],
    agents: Sequence[SupportAgent],
    loads: dict[str, int],
    handling_s: Sequence[float],
) -> list[WaitEstimate]:
    """Each ranked ticket's wait, counting only the tickets ahead that its agents could take.

    Who can take a ticket depends on its intent alone, so the agents' slots are summed once per
    intent and the tickets ahead are counted per intent as the ranking is walked: linear in the
    queue, where asking every earlier ticket again for each one was quadratic.
    """
    takers = _Takers.of((item.intent for item, _ in ranked), agents, loads)
    seen: Counter[str | None] = Counter()
    estimates = []
    for item, _ in ranked:
        estimates.append(takers.estimate(item.intent, seen, handling_s))
        seen[item.intent] += 1
    return estimates


def snapshot(
    services: Services, *, extra: QueueItem | None = None, now: datetime | None = None
) -> list[QueueEntry]:
    """The queue best first, each ticket with its position and estimated wait.

    Args:
        services: Where the records and the commerce backend are.
        extra: A ticket not stored as escalated yet (one being handed off now), ranked too.
        now: The moment waiting times are measured at.

    """
    now = now or utcnow()
    config = load_queue_config()
    with Session(services.engine) as session:
        items = queued_items(session, now)
        agents = session.exec(select(SupportAgent).where(col(SupportAgent.active))).all()
        loads = agent_loads(session)
        handling_s = handling_times(session, config, now)
    if extra is not None:
        items = [item for item in items if item.ticket_id != extra.ticket_id] + [extra]
    ranked = rank(items, config)
    estimates = _estimates(ranked, agents, loads, handling_s)
    return [
        QueueEntry(item, score, index + 1, estimate)
        for index, ((item, score), estimate) in enumerate(zip(ranked, estimates, strict=True))
    ]


def wait_view(entry: QueueEntry) -> dict[str, Any]:
    """Position and estimated wait, JSON-safe (None when the wait cannot be measured)."""
    return {
        "position": entry.position,
        "estimated_wait_s": entry.estimate.seconds,
        "basis": entry.estimate.basis,
        "measured_resolutions": entry.estimate.samples,
    }


def estimate_for_handoff(
    services: Services,
    *,
    ticket_id: str,
    customer_id: str,
    intent: str | None,
    negative_sentiment: float,
    order_ids: Iterable[str],
    rule_id: str | None,
) -> dict[str, Any]:
    """Where a ticket being handed off now will stand in the queue, and its estimated wait.

    The same position and wait as ``snapshot`` gives it, found by comparing each waiting
    ticket with this one instead of ranking them all: a handoff happens on a customer's turn.
    """
    now = utcnow()
    config = load_queue_config()
    item = QueueItem(
        ticket_id=ticket_id,
        negative_sentiment=negative_sentiment,
        waited_s=0.0,
        order_value=order_value(services.backend, customer_id, order_ids),
        rule_id=rule_id,
        intent=intent,
    )
    with Session(services.engine) as session:
        waiting = [other for other in queued_items(session, now) if other.ticket_id != ticket_id]
        agents = session.exec(select(SupportAgent).where(col(SupportAgent.active))).all()
        loads = agent_loads(session)
        handling_s = handling_times(session, config, now)
    mine = rank_key(item, priority_score(item, config))
    ahead = Counter(
        other.intent for other in waiting if rank_key(other, priority_score(other, config)) < mine
    )
    takers = _Takers.of([intent, *ahead], agents, loads)
    position = sum(ahead.values()) + 1
    return wait_view(
        QueueEntry(
            item, priority(item, config), position, takers.estimate(intent, ahead, handling_s)
        )
    )


def describe_wait(view: dict[str, Any]) -> str:
    """The customer's sentences about the queue; nothing about time when none was measured."""
    place = f"You're number {view['position']} in the queue."
    seconds = view.get("estimated_wait_s")
    if seconds is None:
        return place
    if seconds < 60:
        return f"{place} A member of the team should pick this up within a minute or so."
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{place} The estimated wait is about {minutes} minute{'s' if minutes != 1 else ''}."
    return f"{place} The estimated wait is about {round(minutes / 60)} hours."
