"""Analytics and CSAT through the real app, every figure checked against inserted records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from testkit import DocumentedClient

from supportgraph.db.models import CustomerMessage, SupportTicket, TicketStatus, utcnow
from supportgraph.services import Services

PERIOD = {"start": "2025-03-01T00:00:00Z", "end": "2025-03-31T00:00:00Z"}
RESOLVED, OPEN, ESCALATED = TicketStatus.RESOLVED, TicketStatus.OPEN, TicketStatus.ESCALATED


@pytest.fixture
def services(services_factory: Callable[..., Services]) -> Services:
    """Priced tokens and a per-ticket compute cost, so every cost term shows."""
    return services_factory(
        human_cost_per_ticket_usd=6.0,
        ai_cost_per_ticket_usd=0.01,
        llm_prompt_price_per_1k_tokens_usd=0.5,
        llm_completion_price_per_1k_tokens_usd=1.5,
        verified_resolution_days=7,
    )


def day(month: int, dom: int, hour: int = 9) -> datetime:
    return datetime(2025, month, dom, hour, tzinfo=UTC)


def ticket(
    ticket_id: str,
    customer: str,
    intent: str | None,
    variant: str | None,
    created: datetime,
    *,
    status: TicketStatus = RESOLVED,
    by: str | None = "ai",
    csat: int | None = None,
    escalated: bool = False,
) -> SupportTicket:
    resolved = status == RESOLVED
    return SupportTicket(
        id=ticket_id,
        customer_id=customer,
        primary_intent=intent,
        ab_variant=variant,
        status=status,
        resolved_by=by if resolved else None,
        resolved_at=created + timedelta(hours=1) if resolved else None,
        escalated_at=created + timedelta(minutes=5) if escalated else None,
        csat_score=csat,
        created_at=created,
        updated_at=created,
    )


def message(
    ticket_id: str,
    latency: float | None,
    *,
    role: str = "ai",
    prompt: int | None = None,
    completion: int | None = None,
) -> CustomerMessage:
    return CustomerMessage(
        ticket_id=ticket_id,
        turn=1,
        role=role,
        content="...",
        response_latency_ms=latency,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


def insert(services: Services, *rows: Any) -> None:
    with Session(services.engine) as session:
        session.add_all(rows)
        session.commit()


@pytest.fixture
def march(services: Services) -> None:
    """Tickets of March 2025 (and two of April) whose figures are worked out by hand below."""
    insert(
        services,
        # cust_a: AI resolved order_status, came back 3 days later on it → t1 not verified
        ticket("t1", "cust_a", "order_status", "serving", day(3, 2), csat=5),
        ticket("t2", "cust_a", "order_status", "serving", day(3, 5), by="human", csat=3,
               escalated=True),
        # cust_b: AI resolved, came back about another intent → t3 verified
        ticket("t3", "cust_b", "refund_request", "candidate", day(3, 10), csat=4),
        ticket("t4", "cust_b", "account_access", "candidate", day(3, 12), status=OPEN),
        # cust_c: came back on the same intent, but after the 7-day window → t5 verified
        ticket("t5", "cust_c", "refund_request", "candidate", day(3, 20)),
        ticket("t6", "cust_c", "refund_request", "serving", day(4, 25), csat=1),
        # cust_d: came back within the window, after the period's end → t7 not verified
        ticket("t7", "cust_d", "order_status", "serving", day(3, 29), csat=2),
        ticket("t8", "cust_d", "order_status", "serving", day(4, 2), status=OPEN),
        ticket("t9", "cust_e", "human_agent", None, day(3, 15), status=ESCALATED, by=None,
               escalated=True),
    )  # fmt: skip
    insert(
        services,
        message("t1", 100.0, prompt=1000, completion=500),
        message("t1", None, role="customer"),
        message("t2", 300.0, prompt=400, completion=0),
        message("t3", 200.0),
        message("t4", 999.0, role="customer"),
        message("t5", 400.0, prompt=2000, completion=1000),
        message("t6", 10_000.0, prompt=9_000, completion=9_000),
        message("t7", None),
    )


def analytics(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/v1/support/analytics", params=params or None)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.usefixtures("march")
def test_period_figures(client: TestClient) -> None:
    figures = analytics(client, **PERIOD)
    # t1 t2 t3 t4 t5 t7 t9 are in the period; t6 and t8 (April) are not
    assert figures["total_tickets"] == 7
    assert figures["ai_resolved"] == 4  # t1 t3 t5 t7
    assert figures["escalated"] == 2  # t2 t9
    assert figures["pending"] == 1  # t4
    assert figures["deflection_rate"] == 0.5714  # 4 / 7
    assert figures["avg_ai_response_ms"] == 250.0  # AI replies only: 100 300 200 400
    assert figures["avg_csat_ai"] == 3.667  # t1 5, t3 4, t7 2 (t5 unscored)
    assert figures["avg_csat_human"] == 3.0  # t2
    assert figures["prompt_tokens"] == 3400 and figures["completion_tokens"] == 1500
    # 7 tickets x 0.01 + 3.4k x 0.5 + 1.5k x 1.5 = 0.07 + 1.70 + 2.25
    assert figures["ai_cost_usd"] == 4.02
    assert figures["human_cost_avoided_usd"] == 24.0  # 4 x 6
    assert figures["cost_savings_usd"] == 19.98
    assert figures["top_intents"] == [
        {"intent": "order_status", "count": 3, "auto_resolved_pct": 0.6667},
        {"intent": "refund_request", "count": 2, "auto_resolved_pct": 1.0},
        {"intent": "account_access", "count": 1, "auto_resolved_pct": 0.0},
        {"intent": "human_agent", "count": 1, "auto_resolved_pct": 0.0},
    ]
    assert figures["period"] == "custom"
    assert figures["window"] == {"start": "2025-03-01T00:00:00Z", "end": "2025-03-31T00:00:00Z"}


@pytest.mark.usefixtures("march")
def test_verified_resolution(client: TestClient) -> None:
    figures = analytics(client, **PERIOD)
    assert figures["verified_resolution_days"] == 7
    assert figures["verified_resolutions"] == 2  # t3 (other intent), t5 (after the window)
    assert figures["verified_resolution_returned"] == 2  # t1, t7 (return after the period)
    assert figures["verified_resolution_pending"] == 0
    assert figures["verified_resolution_rate"] == 0.5
    # Only t6 in April: cust_c has no later ticket, and its window closed long ago.
    april = analytics(client, start="2025-04-20T00:00:00Z", end="2025-04-30T00:00:00Z")
    assert april["total_tickets"] == 1 and april["verified_resolution_rate"] == 1.0


@pytest.mark.usefixtures("march")
def test_by_variant(client: TestClient) -> None:
    rows = {row["variant"]: row for row in analytics(client, **PERIOD)["by_variant"]}
    assert list(rows) == [None, "candidate", "serving"]
    unassigned, candidate, serving = rows[None], rows["candidate"], rows["serving"]
    assert (unassigned["total_tickets"], unassigned["ai_resolved"], unassigned["escalated"]) == (
        1, 0, 1
    )  # fmt: skip
    assert unassigned["deflection_rate"] == 0.0
    assert unassigned["avg_ai_response_ms"] is None and unassigned["avg_csat_ai"] is None
    assert unassigned["cost_savings_usd"] == -0.01  # the AI's compute, nothing saved
    assert unassigned["verified_resolution_rate"] is None

    assert (candidate["total_tickets"], candidate["ai_resolved"], candidate["pending"]) == (3, 2, 1)
    assert candidate["deflection_rate"] == 0.6667
    assert candidate["avg_ai_response_ms"] == 300.0  # 200 400
    assert (candidate["avg_csat_ai"], candidate["avg_csat_human"]) == (4.0, None)
    assert candidate["ai_cost_usd"] == 2.53  # 0.03 + 1.00 + 1.50
    assert candidate["cost_savings_usd"] == 9.47
    assert candidate["verified_resolution_rate"] == 1.0
    assert [row["intent"] for row in candidate["top_intents"]] == [
        "refund_request", "account_access"
    ]  # fmt: skip

    assert (serving["total_tickets"], serving["ai_resolved"], serving["escalated"]) == (3, 2, 1)
    assert serving["avg_ai_response_ms"] == 200.0  # 100 300
    assert (serving["avg_csat_ai"], serving["avg_csat_human"]) == (3.5, 3.0)
    assert serving["ai_cost_usd"] == 1.48  # 0.03 + 0.70 + 0.75
    assert serving["cost_savings_usd"] == 10.52
    assert serving["verified_resolution_rate"] == 0.0
    assert serving["verified_resolution_returned"] == 2


def test_resolution_inside_its_window_is_pending(client: TestClient, services: Services) -> None:
    now = utcnow()
    insert(
        services,
        ticket("p1", "cust_p", "order_status", "serving", now - timedelta(days=2)),
        # cust_q already came back on the same intent: decided before its window closes
        ticket("q1", "cust_q", "refund_request", "serving", now - timedelta(days=3)),
        ticket("q2", "cust_q", "refund_request", "serving", now - timedelta(days=1), status=OPEN),
    )
    figures = analytics(client)
    assert figures["verified_resolution_pending"] == 1
    assert figures["verified_resolution_returned"] == 1
    assert figures["verified_resolutions"] == 0
    assert figures["verified_resolution_rate"] == 0.0


def test_empty_period_invents_nothing(client: TestClient) -> None:
    figures = analytics(client, **PERIOD)
    assert figures["total_tickets"] == 0 and figures["by_variant"] == []
    for name in ("avg_ai_response_ms", "avg_csat_ai", "avg_csat_human", "verified_resolution_rate"):
        assert figures[name] is None
    assert figures["cost_savings_usd"] == 0.0 and figures["ai_cost_usd"] == 0.0


def test_without_prices_tokens_cost_nothing(
    services_factory: Callable[..., Services],
) -> None:
    from server import create_app

    plain = services_factory()
    insert(plain, ticket("t1", "cust_a", "order_status", "serving", day(3, 2)))
    insert(plain, message("t1", 50.0, prompt=1000, completion=1000))
    with DocumentedClient(create_app(services=plain)) as client:
        figures = analytics(client, **PERIOD)
    assert figures["prompt_tokens"] == 1000 and figures["ai_cost_usd"] == 0.0
    assert figures["cost_savings_usd"] == 6.0  # the default human cost per ticket


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2025-03-02T00:00:00Z", "end": "2025-03-01T00:00:00Z"},
        {"start": "2025-03-01T00:00:00Z", "end": "2025-03-01T00:00:00Z"},
    ],
    ids=["reversed", "empty"],
)
def test_period_must_be_ordered(client: TestClient, params: dict[str, str]) -> None:
    response = client.get("/v1/support/analytics", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "start must be before end"


def test_period_must_be_dates(client: TestClient) -> None:
    response = client.get("/v1/support/analytics", params={"start": "last tuesday"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "start"]


# --- CSAT -----------------------------------------------------------------------------------


def stored(services: Services, ticket_id: str) -> dict[str, Any]:
    with Session(services.engine) as session:
        row = session.get(SupportTicket, ticket_id)
        assert row is not None
        return row.model_dump()


def test_csat_is_recorded_and_replaced(client: TestClient, services: Services) -> None:
    insert(services, ticket("c1", "cust_a", "order_status", "serving", day(3, 2)))
    before = stored(services, "c1")
    first = client.post("/v1/support/csat", json={"ticket_id": "c1", "customer_id": "cust_a",
                                                  "score": 4})  # fmt: skip
    assert first.status_code == 200
    assert first.json() == {"ticket_id": "c1", "score": 4, "previous_score": None}
    second = client.post("/v1/support/csat", json={"ticket_id": "c1", "customer_id": "cust_a",
                                                   "score": 2})  # fmt: skip
    assert second.json() == {"ticket_id": "c1", "score": 2, "previous_score": 4}
    assert stored(services, "c1") == {**before, "csat_score": 2}  # nothing else changes
    assert analytics(client, **PERIOD)["avg_csat_ai"] == 2.0


@pytest.mark.parametrize("score", [0, 6, -1, 4.5, "good", None])
def test_csat_score_out_of_range_is_422(client: TestClient, services: Services, score: Any) -> None:
    insert(services, ticket("c1", "cust_a", "order_status", "serving", day(3, 2), csat=3))
    response = client.post(
        "/v1/support/csat", json={"ticket_id": "c1", "customer_id": "cust_a", "score": score}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "score"]
    assert stored(services, "c1")["csat_score"] == 3


@pytest.mark.parametrize(
    ("ticket_id", "customer_id"), [("nope", "cust_a"), ("c1", "cust_b")],
    ids=["unknown_ticket", "another_customers_ticket"],
)  # fmt: skip
def test_csat_on_a_ticket_not_yours_is_404(
    client: TestClient, services: Services, ticket_id: str, customer_id: str
) -> None:
    insert(services, ticket("c1", "cust_a", "order_status", "serving", day(3, 2), csat=3))
    response = client.post(
        "/v1/support/csat", json={"ticket_id": ticket_id, "customer_id": customer_id, "score": 5}
    )
    assert response.status_code == 404
    assert ticket_id in response.json()["detail"]
    assert stored(services, "c1")["csat_score"] == 3
