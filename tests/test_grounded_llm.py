"""An LLM's answer is kept only when every checkable fact in it has a source."""

from __future__ import annotations

import pytest
from fake_models import ToolCallingFake, tool_call
from langchain_core.messages import AIMessage
from testkit import ai_messages, support_with

from supportgraph.services import Services

QUESTION = "how long does a refund take to show up on my card?"


def ai_flags(services: Services, ticket_id: str) -> list[str]:
    return [flag for row in ai_messages(services, ticket_id) for flag in row.flags]


@pytest.mark.parametrize(
    ("invented", "wrong"),
    [
        ("Refunds show up within 2-3 business days.", "2-3 business days"),
        ("We refund up to $5,000.00 on any order.", "$5,000.00"),
        ("Your refund will arrive on 2031-03-17.", "2031-03-17"),  # no window reaches it
        ("Your refund for ORD-424242 is on its way.", "ORD-424242"),
        ("You get 25% back as store credit.", "25%"),
    ],
    ids=["duration", "amount", "date", "order-id", "percentage"],
)
def test_invented_facts_are_caught_and_replaced(
    services: Services, invented: str, wrong: str
) -> None:
    model = ToolCallingFake(responses=[AIMessage(invented)])
    support = support_with(services, model)
    result = support.handle_message(ticket_id=None, customer_id="cust_101", message=QUESTION)
    assert model.calls == 1
    assert wrong not in result.state["response"]
    assert invented not in result.state["response"]
    assert "5-10 business days" in result.state["response"]  # the extractive answer instead
    assert result.state["grounding"]["replaced"] is True
    assert wrong.replace(",", "") in " ".join(result.state["grounding"]["unsupported"]).replace(
        ",", ""
    )
    flags = ai_flags(support.services, result.ticket_id)
    assert "ungrounded_answer_replaced" in flags


def test_a_grounded_answer_is_kept(services: Services) -> None:
    grounded = "Refunds to your original payment method take 5-10 business days to appear."
    model = ToolCallingFake(responses=[AIMessage(grounded)])
    support = support_with(services, model)
    result = support.handle_message(ticket_id=None, customer_id="cust_101", message=QUESTION)
    assert result.state["response"].startswith(grounded)
    assert result.state["grounding"] == {"checked": True, "unsupported": [], "replaced": False}
    assert ai_flags(support.services, result.ticket_id) == []


def test_facts_from_tool_results_count_as_sources(services: Services) -> None:
    model = ToolCallingFake(
        responses=[
            tool_call("lookup_order", {"order_id": "ORD-790"}),
            AIMessage("Order ORD-790 cost $149.00 and was delivered."),
        ]
    )
    support = support_with(services, model)
    result = support.handle_message(
        ticket_id=None, customer_id="cust_456", message="what did I pay for ORD-790?"
    )
    assert result.state["grounding"]["replaced"] is False
    assert "Order ORD-790 cost $149.00" in result.state["response"]
