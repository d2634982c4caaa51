"""The analytics' per-day series, escalation reasons and cascade tiers, from inserted records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from supportgraph.analytics_series import percentile, tier_shares, utc_days
from supportgraph.db.models import (
    CustomerMessage,
    EscalationDecision,
    IntentClassification,
    SupportTicket,
    TicketStatus,
    new_id,
)
from supportgraph.services import Services

RESOLVED, OPEN, ESCALATED = TicketStatus.RESOLVED, TicketStatus.OPEN, TicketStatus.ESCALATED


def at(dom: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 3, dom, hour, minute, second, tzinfo=UTC)


def ticket(
    ticket_id: str,
    created: datetime,
    status: TicketStatus = RESOLVED,
    *,
    customer: str | None = None,
    intent: str = "order_status",
) -> SupportTicket:
    resolved = status == RESOLVED
    return SupportTicket(
        id=ticket_id,
        customer_id=customer or f"cust_{ticket_id}",
        primary_intent=intent,
        status=status,
        resolved_by="ai" if resolved else None,
        resolved_at=created + timedelta(hours=1) if resolved else None,
        escalated_at=created + timedelta(minutes=5) if status == ESCALATED else None,
        created_at=created,
        updated_at=created,
    )


def reply(ticket_id: str, latency: float | None, *, message_id: str | None = None) -> Any:
    return CustomerMessage(
        id=message_id or new_id("msg"),
        ticket_id=ticket_id,
        turn=1,
        role="ai",
        content="...",
        response_latency_ms=latency,
    )


def insert(services: Services, *rows: Any) -> None:
    with Session(services.engine) as session:
        for row in rows:  # in order: a row's foreign keys exist before it
            session.add(row)
            session.flush()
        session.commit()


def analytics(client: TestClient, start: str, end: str) -> dict[str, Any]:
    response = client.get("/v1/support/analytics", params={"start": start, "end": end})
    assert response.status_code == 200, response.text
    return dict(response.json())


ZERO_DAY = {
    "total_tickets": 0,
    "ai_resolved": 0,
    "escalated": 0,
    "pending": 0,
    "deflection_rate": None,  # no rate over no tickets: a gap in the chart, not a zero
    "verified_resolution_rate": None,
    "latency_p50_ms": None,
    "latency_p95_ms": None,
    "cost_savings_usd": 0.0,
}


def test_daily_series_counts_each_day_inside_the_window(
    client: TestClient, services: Services
) -> None:
    insert(
        services,
        ticket("before", at(2, 9)),  # before the window's start (12:00)
        ticket("first", at(2, 12)),  # exactly at the start: in
        ticket("handed", at(2, 18), ESCALATED),
        ticket("waiting", at(4, 10), OPEN),
        ticket("last", at(4, 23, 59, 59), customer="cust_b"),
        ticket("after", at(5, 0)),  # exactly at the end: out
        # cust_b is back on the same intent two days later: "last" did not hold
        ticket("back", at(6, 9), OPEN, customer="cust_b"),
        reply("first", 100.0),
        reply("first", 300.0),
        reply("last", 50.0),
        reply("after", 9_999.0),
    )
    figures = analytics(client, "2025-03-02T12:00:00Z", "2025-03-05T00:00:00Z")
    assert figures["daily"] == [
        {
            "date": "2025-03-02",
            "total_tickets": 2,
            "ai_resolved": 1,
            "escalated": 1,
            "pending": 0,
            "deflection_rate": 0.5,
            "verified_resolution_rate": 1.0,
            "latency_p50_ms": 200.0,
            "latency_p95_ms": 290.0,  # 100 + 200 x 0.95
            "cost_savings_usd": 6.0,  # one AI resolution at the default human cost
        },
        {"date": "2025-03-03", **ZERO_DAY},
        {
            "date": "2025-03-04",
            "total_tickets": 2,
            "ai_resolved": 1,
            "escalated": 0,
            "pending": 1,
            "deflection_rate": 0.5,
            "verified_resolution_rate": 0.0,
            "latency_p50_ms": 50.0,
            "latency_p95_ms": 50.0,
            "cost_savings_usd": 6.0,
        },
    ]
    for name in ("total_tickets", "ai_resolved", "escalated", "pending", "cost_savings_usd"):
        assert sum(day[name] for day in figures["daily"]) == figures[name]


def test_a_window_ending_at_midnight_has_no_extra_day(client: TestClient) -> None:
    days = analytics(client, "2025-03-01T00:00:00Z", "2025-03-08T00:00:00Z")["daily"]
    assert [day["date"] for day in days] == [f"2025-03-0{dom}" for dom in range(1, 8)]
    assert all(day == {"date": day["date"], **ZERO_DAY} for day in days)


def test_escalation_reasons_and_cascade_tiers(client: TestClient, services: Services) -> None:
    insert(
        services,
        ticket("e1", at(3), ESCALATED),
        ticket("e2", at(3), ESCALATED),
        ticket("e3", at(3), ESCALATED),  # no decision stored
        ticket("r1", at(3)),
        *(reply(t, 10.0, message_id=f"m_{t}") for t in ("e1", "e2", "r1")),
        *(
            EscalationDecision(
                ticket_id=ticket_id,
                escalate=escalate,
                score=0.9,
                threshold=0.5,
                rule_id=rule,
                reason="...",
                created_at=at(3, hour),
            )
            for ticket_id, rule, escalate, hour in [
                ("e1", "score.sentiment", False, 9),  # not an escalation
                ("e1", "escalate.customer", True, 10),  # the first that escalated
                ("e1", "score.loop", True, 11),
                ("e2", "escalate.customer", True, 10),
            ]
        ),
        *(
            IntentClassification(
                ticket_id=ticket_id,
                message_id=f"m_{ticket_id}",
                intent="order_status",
                confidence=0.9,
                classifier_used=tier,
                is_primary=primary,
            )
            for ticket_id, tier, primary in [
                ("e1", "rules", True),
                ("e2", "embedding", True),
                ("r1", "rules", True),
                ("r1", "llm", False),  # a secondary intent: not counted
            ]
        ),
    )
    figures = analytics(client, "2025-03-01T00:00:00Z", "2025-03-08T00:00:00Z")
    assert figures["escalation_reasons"] == [
        {"rule_id": "escalate.customer", "count": 2},
        {"rule_id": "unrecorded", "count": 1},
    ]
    assert figures["cascade_tiers"] == [
        {"tier": "rules", "count": 2, "share": 0.6667},
        {"tier": "embedding", "count": 1, "share": 0.3333},
        {"tier": "llm", "count": 0, "share": 0.0},
        {"tier": "fallback", "count": 0, "share": 0.0},
    ]


def test_pure_helpers() -> None:
    assert (percentile([400, 100, 300, 200], 50), percentile([100, 200, 300, 400], 95)) == (
        250.0,
        385.0,
    )
    assert percentile([], 50) is None
    assert [row["share"] for row in tier_shares([])] == [None, None, None, None]
    assert tier_shares(["custom"])[-1] == {"tier": "custom", "count": 1, "share": 1.0}
    # 23:00 on 1 March at UTC-2 is already 2 March in UTC
    minus_two = timezone(timedelta(hours=-2))
    start = datetime(2025, 3, 1, 23, tzinfo=minus_two)
    assert [d.isoformat() for d in utc_days(start, start + timedelta(hours=1))] == ["2025-03-02"]
