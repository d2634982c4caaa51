"""A handoff across two browser contexts: the customer's chat and an agent's console."""

from __future__ import annotations

from typing import Any

from browserkit import LiveApp, needs_browser
from playwright.sync_api import expect
from sqlmodel import Session, select

from supportgraph.db.models import ResolutionFeedback, SupportTicket

pytestmark = needs_browser


def test_the_customer_reaches_a_person_sees_the_reply_live_and_rates_it(
    live_app: LiveApp, new_page: Any
) -> None:
    chat = new_page()
    chat.goto(f"{live_app.url}/chat")
    chat.click("[data-demo=cust_456]")
    chat.fill("#message-input", "I want to talk to a human please")
    chat.click("#send")
    handoff = chat.locator("#handoff")
    expect(handoff).to_have_attribute("data-queue-position", "1")
    expect(handoff).to_contain_text("Handing you to a person")
    ticket_id = chat.evaluate("sessionStorage.getItem('supportgraph.customer.ticket')")

    console = new_page()
    console.goto(f"{live_app.url}/console")
    console.click('[data-demo="agent_demo"]')
    waiting = console.locator(f'li.queue-entry[data-ticket-id="{ticket_id}"]')
    waiting.locator("button.claim").click()
    expect(console.locator("section#ticket #packet")).to_contain_text("cust_456")
    expect(console.locator("ol#transcript li.message[data-role=customer]")).to_contain_text(
        "I want to talk to a human please"
    )
    expect(handoff).to_contain_text("A member of the team is with you now")  # no reload

    reply = "Hi, I'm here. What can I help you with today?"
    console.fill("#reply-input", reply)
    console.click("#send-reply")
    expect(chat.locator("li.message[data-role=human_agent]")).to_contain_text(reply)  # no reload

    console.fill("#correct-intent", "faq")
    console.fill("#final-answer", "Answered the customer's question in person.")
    console.select_option("#correction-type", index=1)
    console.click("#resolve-ticket")

    csat = chat.locator("section#csat")
    expect(csat).to_be_visible()
    with Session(live_app.services.engine) as session:
        feedback = session.exec(
            select(ResolutionFeedback).where(ResolutionFeedback.ticket_id == ticket_id)
        ).all()
    assert len(feedback) == 1
    assert feedback[0].correct_intent == "faq"

    csat.locator("button[data-score='5']").click()
    expect(csat).to_contain_text("you rated this 5 of 5")
    with Session(live_app.services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
        assert ticket is not None
        assert (ticket.status, ticket.csat_score) == ("resolved", 5)
