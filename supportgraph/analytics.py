"""Analytics computed from the stored records only."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import fmean
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from supportgraph.db.models import CustomerMessage, SupportTicket, TicketStatus

PENDING = frozenset({TicketStatus.OPEN, TicketStatus.AWAITING_CUSTOMER})


def _mean(values: list[float]) -> float | None:
    return round(fmean(values), 3) if values else None


def compute_analytics(
    engine: Engine,
    *,
    start: datetime,
    end: datetime,
    human_cost_per_ticket: float,
    ai_cost_per_ticket: float,
) -> dict[str, Any]:
    """Deflection, escalations, response time, CSAT, savings and top intents for a period."""
    with Session(engine) as session:
        tickets = session.exec(
            select(SupportTicket).where(
                SupportTicket.created_at >= start, SupportTicket.created_at < end
            )
        ).all()
        ids = [ticket.id for ticket in tickets]
        latencies = (
            session.exec(
                select(CustomerMessage.response_latency_ms).where(
                    col(CustomerMessage.ticket_id).in_(ids),
                    CustomerMessage.role == "ai",
                    col(CustomerMessage.response_latency_ms).is_not(None),
                )
            ).all()
            if ids
            else []
        )
    ai_resolved = [
        t for t in tickets if t.status == TicketStatus.RESOLVED and t.resolved_by == "ai"
    ]
    escalated = [t for t in tickets if t.escalated_at is not None]
    pending = [t for t in tickets if t.status in PENDING]
    total = len(tickets)
    intents = Counter(t.primary_intent for t in tickets if t.primary_intent)
    resolved_by_intent = Counter(t.primary_intent for t in ai_resolved if t.primary_intent)
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "total_tickets": total,
        "ai_resolved": len(ai_resolved),
        "escalated": len(escalated),
        "pending": len(pending),
        "deflection_rate": round(len(ai_resolved) / total, 4) if total else 0.0,
        "avg_ai_response_ms": _mean([float(x) for x in latencies if x is not None]),
        "avg_csat_ai": _mean([t.csat_score for t in ai_resolved if t.csat_score is not None]),
        "avg_csat_human": _mean(
            [t.csat_score for t in tickets if t.resolved_by == "human" and t.csat_score is not None]
        ),
        "cost_savings_usd": round(
            len(ai_resolved) * (human_cost_per_ticket - ai_cost_per_ticket), 2
        ),
        "top_intents": [
            {
                "intent": intent,
                "count": count,
                "auto_resolved_pct": round(100 * resolved_by_intent[intent] / count, 1),
            }
            for intent, count in intents.most_common(10)
        ],
    }
