"""The support lead's dashboard in headless Chromium: each chart draws the analytics figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browserkit import DESKTOP, PHONE, LiveApp, needs_browser, screenshot
from sqlmodel import Session

from supportgraph.db.models import (
    CustomerMessage,
    EscalationDecision,
    IntentClassification,
    KnowledgeGap,
    SupportTicket,
    TicketStatus,
)
from supportgraph.services import Services

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = needs_browser

FIRST, LAST = "2025-03-01", "2025-03-07"
RESOLVED, OPEN, ESCALATED = TicketStatus.RESOLVED, TicketStatus.OPEN, TicketStatus.ESCALATED
# id, day of March, hour, status, resolved by, intent, csat, AI reply latency, tier, escalating rule
TICKETS = [
    ("d1", 1, 9, RESOLVED, "ai", "order_status", 5, 120.0, "rules", None),
    ("d2", 1, 15, ESCALATED, None, "human_agent", None, None, "rules", "escalate.customer"),
    ("d3", 2, 10, RESOLVED, "human", "refund_request", 3, 400.0, "embedding", "score.sentiment"),
    ("d4", 3, 11, OPEN, None, "account_access", None, 900.0, "llm", None),
    ("d5", 5, 8, RESOLVED, "ai", "refund_request", 4, 200.0, "embedding", None),
    ("d6", 7, 23, RESOLVED, "ai", "order_status", None, 150.0, "rules", None),
    ("out", 8, 10, RESOLVED, "ai", "order_status", 1, 5000.0, "llm", None),  # after the range
]

# Questions nothing answered: (ticket, day of March, question); the last is after the range.
GAPS = [
    ("d1", 1, "Do you have student discounts?"),
    ("d5", 5, "do you have student discounts"),
    ("d6", 7, "Can I pay with Bitcoin?"),
    ("out", 8, "Do you price match Amazon?"),
]


@pytest.fixture
def services(services_factory: Callable[..., Services]) -> Services:
    """A compute cost per ticket, so the savings are not just the human cost."""
    return services_factory(ai_cost_per_ticket_usd=0.25, verified_resolution_days=7)


def records(row: tuple[Any, ...]) -> list[Any]:
    """A ticket with its AI reply, its primary classification and its escalating decision."""
    ticket_id, dom, hour, status, by, intent, csat, latency, tier, rule = row
    created = datetime(2025, 3, dom, hour, tzinfo=UTC)
    made: list[Any] = [
        SupportTicket(
            id=ticket_id,
            customer_id=f"cust_{ticket_id}",
            primary_intent=intent,
            status=status,
            resolved_by=by,
            resolved_at=created + timedelta(hours=1) if status == RESOLVED else None,
            escalated_at=created + timedelta(minutes=5) if rule else None,
            csat_score=csat,
            created_at=created,
            updated_at=created,
        ),
        CustomerMessage(
            id=f"m_{ticket_id}",
            ticket_id=ticket_id,
            turn=1,
            role="ai",
            content="...",
            response_latency_ms=latency,
        ),
        IntentClassification(
            ticket_id=ticket_id,
            message_id=f"m_{ticket_id}",
            intent=intent,
            confidence=0.9,
            classifier_used=tier,
        ),
    ]
    if rule:
        made.append(
            EscalationDecision(
                ticket_id=ticket_id,
                escalate=True,
                score=0.9,
                threshold=0.5,
                rule_id=rule,
                reason="...",
            )
        )
    return made


@pytest.fixture
def march(live_app: LiveApp) -> None:
    with Session(live_app.services.engine) as session:
        for row in TICKETS:
            for record in records(row):
                session.add(record)
                session.flush()
        for ticket_id, dom, question in GAPS:
            session.add(
                KnowledgeGap(
                    ticket_id=ticket_id,
                    message_id=f"m_{ticket_id}",
                    intent="faq",
                    question=question,
                    nearest_source_id="promo-codes#how-do-promo-codes-work",
                    created_at=datetime(2025, 3, dom, 12, tzinfo=UTC),
                )
            )
        session.commit()


def expect(target: Any) -> Any:
    """Playwright's expect, imported only where a browser runs (else the tests are skipped)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def api_figures(live_app: LiveApp) -> dict[str, Any]:
    """The analytics API's figures for the page's range, asked with the development key."""
    response = httpx.get(
        f"{live_app.url}/v1/support/analytics",
        params={"start": f"{FIRST}T00:00:00Z", "end": "2025-03-08T00:00:00Z"},
        headers={"Authorization": f"Bearer {live_app.api_key}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def expected_charts(f: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What each chart must draw, field by field from the API's answer."""
    days = [day["date"] for day in f["daily"]]

    def per_day(*names: str) -> dict[str, Any]:
        return {"labels": days, **{name: [day[name] for day in f["daily"]] for name in names}}

    def rows(key: str, label: str, *names: str) -> dict[str, Any]:
        return {
            "labels": [row[label] for row in f[key]],
            **{name: [row[name] for row in f[key]] for name in names},
        }

    return {
        "tickets-per-day": per_day("ai_resolved", "escalated", "pending"),
        "resolution-rates": per_day("deflection_rate", "verified_resolution_rate"),
        "csat": {"labels": ["AI", "Human"], "csat": [f["avg_csat_ai"], f["avg_csat_human"]]},
        "cost-savings": per_day("cost_savings_usd"),
        "top-intents": rows("top_intents", "intent", "count", "auto_resolved_pct"),
        "escalation-reasons": rows("escalation_reasons", "rule_id", "count"),
        "latency": per_day("latency_p50_ms", "latency_p95_ms"),
        "cascade-tiers": rows("cascade_tiers", "tier", "share"),
    }


def open_dashboard(live_app: LiveApp, new_page: Callable[..., Page], viewport: Any) -> Page:
    """Sign in as the demo's support lead and choose the range of the inserted records."""
    page = new_page(viewport)
    page.goto(f"{live_app.url}/dashboard")
    page.click("[data-demo=support_lead]")
    page.fill("#start", FIRST)
    page.fill("#end", LAST)
    page.click("#apply")
    page.wait_for_selector(f'#charts[data-start="{FIRST}"][data-end="{LAST}"][aria-busy=false]')
    return page


def drawn(page: Page) -> dict[str, Any]:
    figures = page.locator("figure[data-chart]")
    return {
        str(figures.nth(i).get_attribute("data-chart")): json.loads(
            figures.nth(i).get_attribute("data-values") or "null"
        )
        for i in range(figures.count())
    }


@pytest.mark.usefixtures("march")
def test_each_chart_draws_the_analytics_figures(
    live_app: LiveApp, new_page: Callable[..., Page]
) -> None:
    page = open_dashboard(live_app, new_page, DESKTOP)
    figures = api_figures(live_app)
    assert drawn(page) == expected_charts(figures)
    # The inserted records reached the charts: "out" (8 March) is not in them.
    tickets = drawn(page)["tickets-per-day"]
    assert tickets["labels"] == [f"2025-03-0{dom}" for dom in range(1, 8)]
    assert tickets["ai_resolved"] == [1, 0, 0, 0, 1, 0, 1]
    assert tickets["escalated"] == [1, 1, 0, 0, 0, 0, 0]
    assert tickets["pending"] == [0, 0, 1, 0, 0, 0, 0]
    assert drawn(page)["csat"]["csat"] == [4.5, 3.0]
    # Headline numbers as text; each drawn chart is an image with a text alternative.
    expect(page.locator("[data-figure=total_tickets]")).to_have_text("6")
    expect(page.locator("[data-figure=deflection_rate]")).to_have_text("50.0%")
    expect(page.locator("[data-figure=cost_savings_usd]")).to_have_text("$16.50")  # 3x6 - 6x0.25
    expect(page.locator("[data-figure=latency_p50_ms]")).to_have_text("200 ms")
    assert page.locator("figure[data-chart] canvas[role=img][aria-label]").count() == 8
    expect(page.locator("figure[data-chart=escalation-reasons] figcaption")).to_contain_text(
        "2 escalated"
    )
    # The questions nothing answered, as the API lists them: the articles to write next.
    gaps = page.locator("#knowledge-gaps tbody tr")
    assert [gaps.nth(i).locator("td").all_inner_texts() for i in range(gaps.count())] == [
        [g["question"], g["intent"], str(g["count"]), str(g["tickets"]), g["nearest_source_id"]]
        for g in figures["knowledge_gaps"]
    ]
    assert [g["count"] for g in figures["knowledge_gaps"]] == [2, 1]
    expect(page.locator("#knowledge-gaps")).to_contain_text("3 in this range")
    screenshot(page, "dashboard-desktop")


@pytest.mark.usefixtures("march")
def test_dashboard_on_a_phone(live_app: LiveApp, new_page: Callable[..., Page]) -> None:
    page = open_dashboard(live_app, new_page, PHONE)
    assert drawn(page) == expected_charts(api_figures(live_app))
    box = page.locator("figure[data-chart=csat]").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]  # one column, no sideways scroll
    screenshot(page, "dashboard-phone")


def test_dashboard_refuses_a_customer_credential(
    live_app: LiveApp, new_page: Callable[..., Page]
) -> None:
    signed_in = httpx.post(f"{live_app.url}/v1/demo/sign-in", json={"role": "customer"}).json()
    page = new_page()
    page.goto(f"{live_app.url}/dashboard")
    page.fill("#credential", signed_in["token"])
    page.click("form.sign-in button[type=submit]")
    expect(page.locator("#notice[role=alert]")).to_contain_text("this one was refused")
    expect(page.locator("#credential")).to_be_visible()  # asked to sign in again
    assert page.locator("figure[data-chart]").count() == 0
    stored = page.evaluate("sessionStorage.getItem('supportgraph.lead.credential')")
    assert stored is None
