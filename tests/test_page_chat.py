"""The customer's chat page in headless Chromium, over the real app and store."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from browserkit import PHONE, LiveApp, needs_browser, screenshot
from playwright.sync_api import expect
from sqlmodel import Session, select
from testkit import SPEC_MESSAGE, refund_payments

from supportgraph.db.models import ActionExecution, ActionStatus, CustomerMessage

pytestmark = needs_browser


def open_chat(live_app: LiveApp, new_page: Callable[..., Any], customer: str, **kw: Any) -> Any:
    """The chat page signed in through the demo as ``customer``."""
    page = new_page(**kw)
    page.goto(f"{live_app.url}/chat")
    page.click(f"[data-demo={customer}]")
    expect(page.locator("#message-input")).to_be_visible()
    return page


def ask(page: Any, text: str) -> None:
    """Type a message and send it; wait for the assistant's reply to it."""
    replies = page.locator("li.message[data-role=ai]")
    before = replies.count()
    page.fill("#message-input", text)
    page.click("#send")
    expect(replies).to_have_count(before + 1)


def test_the_spec_refund_confirmed_from_the_page_refunds_once(
    live_app: LiveApp, new_page: Callable[..., Any]
) -> None:
    page = open_chat(live_app, new_page, "cust_456")
    ask(page, SPEC_MESSAGE)
    expect(page.locator("li.message[data-role=ai]").last).to_contain_text("ORD-789")
    proposal = page.locator("div.proposal[data-action=process_refund][data-order-id=ORD-789]")
    expect(proposal).to_contain_text("$1,299.00")
    expect(proposal).to_have_attribute("data-status", "proposed")
    cited = page.locator("li.message[data-role=ai] ul.sources a").first
    expect(cited).to_have_attribute("href", re.compile(r"^/help/"))
    screenshot(page, "chat-desktop")

    proposal.locator("button.confirm-action").click()

    expect(proposal).to_have_attribute("data-status", "executed")
    expect(proposal).to_contain_text("Refund of $1,299.00 initiated for order ORD-789")
    [payment] = refund_payments(live_app.services, "ORD-789")
    assert payment.amount_cents == 129900
    with Session(live_app.services.engine) as session:
        executed = session.exec(
            select(ActionExecution).where(ActionExecution.status == ActionStatus.EXECUTED)
        ).all()
    assert [(row.action, row.arguments["order_id"]) for row in executed] == [
        ("process_refund", "ORD-789")
    ]


def test_a_cited_source_opens_its_help_article(
    live_app: LiveApp, new_page: Callable[..., Any]
) -> None:
    page = open_chat(live_app, new_page, "cust_456")
    ask(page, "what is your return policy?")
    link = page.locator("li.message[data-role=ai] ul.sources a").first
    href = link.get_attribute("href")
    assert href is not None and href.startswith("/help/returns#")
    page.goto(f"{live_app.url}{href}")
    section = page.locator(f"section#{href.split('#')[1]}")
    expect(section).to_contain_text("30 days")


def test_the_chat_fits_a_phone(live_app: LiveApp, new_page: Callable[..., Any]) -> None:
    page = open_chat(live_app, new_page, "cust_456", viewport=PHONE)
    ask(page, SPEC_MESSAGE)
    expect(page.locator("div.proposal button.confirm-action")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "chat-phone")


def test_a_customer_cannot_open_another_customers_ticket(
    live_app: LiveApp, new_page: Callable[..., Any]
) -> None:
    response = httpx.post(
        f"{live_app.url}/v1/support/message",
        headers={"Authorization": f"Bearer {live_app.api_key}"},
        json={"customer_id": "cust_101", "message": "where is my order ORD-1001?"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    theirs = response.json()["ticket_id"]

    page = open_chat(live_app, new_page, "cust_456")
    page.goto(f"{live_app.url}/chat?ticket={theirs}")

    expect(page.locator("#notice")).to_contain_text("can't be shown")
    expect(page.locator("li.message")).to_have_count(0)
    ask(page, "hello, what are your opening hours?")  # a new ticket of their own, not theirs
    with Session(live_app.services.engine) as session:
        in_theirs = session.exec(
            select(CustomerMessage).where(CustomerMessage.ticket_id == theirs)
        ).all()
    assert len(in_theirs) == 2  # their message and its reply, nothing from this page
