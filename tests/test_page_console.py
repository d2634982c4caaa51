"""The agent console in headless Chromium: queue, claim, packet, reply, approve, resolve."""

from __future__ import annotations

from typing import Any

import httpx
from browserkit import PHONE, LiveApp, needs_browser, screenshot
from playwright.sync_api import expect
from sqlmodel import Session, select
from testkit import refund_payments

from supportgraph.auth.models import AccessRecord
from supportgraph.db.models import (
    ActionExecution,
    CustomerMessage,
    EscalationDecision,
    ResolutionFeedback,
    SupportTicket,
)

pytestmark = needs_browser

REFUND_PROBE = "I want a refund for order ORD-1202, the monitor has dead pixels"  # over $500
HUMAN = "I want to talk to a human"


def api(live_app: LiveApp, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {live_app.api_key}"}
    response = httpx.request(method, live_app.url + path, headers=headers, timeout=60, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def escalate(live_app: LiveApp, message: str, customer_id: str) -> str:
    """A ticket the AI handed to a person, made through the support API."""
    body = {"customer_id": customer_id, "message": message}
    answer = api(live_app, "POST", "/v1/support/message", json=body)
    assert answer["escalated"] is True, answer["response"]
    return str(answer["ticket_id"])


def console(new_page: Any, live_app: LiveApp, agent: str, **kwargs: Any) -> Any:
    """A console signed in as a demo agent, its queue live."""
    page = new_page(**kwargs)
    page.goto(f"{live_app.url}/console")
    page.click(f'[data-demo="{agent}"]')
    expect(page.locator("#who")).to_contain_text(agent)
    expect(page.locator("ol#queue")).to_be_visible()
    return page


def ticket_row(live_app: LiveApp, ticket_id: str) -> SupportTicket:
    with Session(live_app.services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        assert ticket is not None
        return ticket


def entry(page: Any, ticket_id: str) -> Any:
    return page.locator(f'li.queue-entry[data-ticket-id="{ticket_id}"]')


def test_queue_explains_and_claim_shows_packet_and_transcript(
    live_app: LiveApp, new_page: Any
) -> None:
    ticket_id = escalate(live_app, REFUND_PROBE, "cust_102")
    escalate(live_app, HUMAN, "cust_101")  # another one waiting, for the screenshots
    page = console(new_page, live_app, "agent_demo")
    waiting = entry(page, ticket_id)
    expect(waiting).to_contain_text("Refunds over $500.00 are approved by a team member.")
    [listed] = [e for e in api(live_app, "GET", "/v1/agents/queue") if e["ticket_id"] == ticket_id]
    for term, value in listed["priority_terms"].items():
        shown = waiting.locator(f'.priority-terms li[data-term="{term}"]')
        expect(shown).to_contain_text(term.replace("_", " "))
        expect(shown.locator(".value")).to_have_text(f"{value:.2f}")

    waiting.locator("button.claim").click()
    packet = page.locator("section#ticket #packet")
    handoff = ticket_row(live_app, ticket_id).handoff_summary
    assert handoff is not None
    for text in ("cust_102", handoff["summary"], handoff["suggested_next_step"], "order ORD-1202"):
        expect(packet).to_contain_text(text)
    expect(packet).to_contain_text(
        f"refund / request — {handoff['intents'][0]['confidence'] * 100:.1f}%"
    )
    expect(packet).to_contain_text(
        "process refund ORD-1202 $899.00 → proposed refund.needs_approval"
    )
    with Session(live_app.services.engine) as session:
        [decision] = session.exec(
            select(EscalationDecision).where(EscalationDecision.ticket_id == ticket_id)
        ).all()
    negative = decision.signals["negative_sentiment"]["value"]
    expect(packet.locator('.sentiment li[data-turn="1"]')).to_contain_text(
        f"turn 1: {negative:.2f}"
    )
    transcript = page.locator("ol#transcript")
    expect(transcript.locator('li.message[data-role="customer"]')).to_contain_text(REFUND_PROBE)
    expect(transcript.locator('li.message[data-role="ai"]')).to_contain_text("handing this")
    expect(waiting).to_have_count(0)  # gone from the live queue once claimed
    assert ticket_row(live_app, ticket_id).assigned_agent_id == "agent_demo"

    screenshot(page, "console-desktop")
    page.set_viewport_size(PHONE)
    expect(page.locator("#packet")).to_be_in_viewport()
    screenshot(page, "console-phone")


def test_two_agents_never_hold_one_ticket_and_the_second_sees_why(
    live_app: LiveApp, new_page: Any
) -> None:
    ticket_id = escalate(live_app, HUMAN, "cust_101")
    first = console(new_page, live_app, "agent_demo")
    second = console(new_page, live_app, "agent_demo_2")
    expect(entry(first, ticket_id)).to_be_visible()
    expect(entry(second, ticket_id)).to_be_visible()

    def first_claims_meanwhile(route: Any) -> None:
        # Both clicked while the ticket was still listed; the first agent's claim lands first.
        entry(first, ticket_id).locator("button.claim").click()
        expect(first.locator("#packet")).to_be_visible()
        route.continue_()

    second.route("**/v1/agents/agent_demo_2/claim", first_claims_meanwhile)
    entry(second, ticket_id).locator("button.claim").click()
    notice = second.locator('div#notice[role="alert"]')
    expect(notice).to_contain_text(f"ticket {ticket_id} is already assigned to another agent")
    expect(second.locator("#packet")).to_have_count(0)
    assert ticket_row(live_app, ticket_id).assigned_agent_id == "agent_demo"
    with Session(live_app.services.engine) as session:
        claims = session.exec(
            select(AccessRecord).where(
                AccessRecord.ticket_id == ticket_id, AccessRecord.operation == "claim"
            )
        ).all()
    assert [record.principal_id for record in claims] == ["agent_demo"]


def test_reply_approve_and_resolve_from_the_console(live_app: LiveApp, new_page: Any) -> None:
    ticket_id = escalate(live_app, REFUND_PROBE, "cust_102")
    page = console(new_page, live_app, "agent_demo")
    entry(page, ticket_id).locator("button.claim").click()
    transcript = page.locator("ol#transcript")

    text = "Thanks Priya, I'm looking at the monitor refund now."
    page.fill("#reply-input", text)
    page.click("#send-reply")
    expect(transcript.locator('li.message[data-role="human_agent"]')).to_contain_text(text)
    with Session(live_app.services.engine) as session:
        [action] = session.exec(
            select(ActionExecution).where(ActionExecution.ticket_id == ticket_id)
        ).all()
        said = session.exec(
            select(CustomerMessage.content).where(
                CustomerMessage.ticket_id == ticket_id, CustomerMessage.role == "human_agent"
            )
        ).all()
    assert list(said) == [text]

    approval = page.locator(f'div.approval[data-action-id="{action.id}"]')
    expect(approval).to_contain_text("Refund $899.00 for order ORD-1202")
    approval.locator("input").fill("Photos of the dead pixels checked.")
    approval.locator("button.approve").click()
    expect(approval).to_have_attribute("data-status", "executed")
    expect(transcript).to_contain_text("Refund of $899.00 initiated for order ORD-1202.")
    [payment] = refund_payments(live_app.services, "ORD-1202")
    assert payment.amount_cents == 89900 and payment.action_id == action.id

    page.fill("#correct-intent", "refund")
    page.fill("#final-answer", "Approved the $899.00 refund for the monitor with dead pixels.")
    page.select_option("#correction-type", "action")
    page.click("#resolve-ticket")
    expect(page.locator("#status")).to_contain_text(f"Ticket {ticket_id} resolved")
    with Session(live_app.services.engine) as session:
        [feedback] = session.exec(
            select(ResolutionFeedback).where(ResolutionFeedback.ticket_id == ticket_id)
        ).all()
    assert (feedback.agent_id, feedback.correct_intent, feedback.correction_type) == (
        "agent_demo",
        "refund",
        "action",
    )
    assert ticket_row(live_app, ticket_id).status == "resolved"


def test_the_console_refuses_a_customer_credential(live_app: LiveApp, new_page: Any) -> None:
    escalate(live_app, HUMAN, "cust_101")
    signed = httpx.post(
        f"{live_app.url}/v1/demo/sign-in", json={"role": "customer", "subject": "cust_102"}
    )
    page = new_page()
    page.goto(f"{live_app.url}/console")
    page.fill("#credential", signed.json()["token"])
    page.locator("form.sign-in button[type=submit]").click()
    notice = page.locator('div#notice[role="alert"]')
    expect(notice).to_contain_text("that credential was refused: agent routes take scope agent")
    expect(page.locator("#credential")).to_be_visible()  # asked to sign in again
    expect(page.locator("ol#queue")).to_have_count(0)
    expect(page.locator("li.queue-entry")).to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('supportgraph.agent.credential')") is None
