"""Every tool, called for cust_456 with another customer's ids: denied, recorded, no change.

The tools are the LangChain tools the LLM resolver binds (the same guarded functions the
workflow and the API use); the write actions are also tried through POST /v1/support/action.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from testkit import send

from graph.context import tool_context
from supportgraph.commerce.demo_tables import DemoActionLog, DemoEmail, DemoPayment
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution, ActionStatus, SupportTicket
from supportgraph.services import Services
from tools.llm_tools import READ_TOOLS, WRITE_TOOLS, TurnTools, build_tools

TICKET = "tkt_foreign"
# Orders of cust_102 (delivered) and cust_105 (processing): each call would be allowed for
# its owner, so only ownership can refuse it.
FOREIGN_CALLS: dict[str, dict[str, Any]] = {
    "lookup_order": {"order_id": "ORD-1201"},
    "shipping_eta": {"order_id": "ORD-1501"},
    "list_payments": {"order_id": "ORD-1201"},
    "process_refund": {"order_id": "ORD-1201"},
    "cancel_order": {"order_id": "ORD-1501"},
    "update_shipping_address": {"order_id": "ORD-1501", "address": "1 Thief Road, Reno, NV 89501"},
}


@pytest.fixture
def turn(services: Services) -> TurnTools:
    with session_scope(services.engine) as session:
        session.add(SupportTicket(id=TICKET, customer_id="cust_456"))
    return build_tools(tool_context(services, customer_id="cust_456", ticket_id=TICKET))


def call(turn: TurnTools, name: str, args: dict[str, Any]) -> dict[str, Any]:
    message = turn.run({"name": name, "args": args, "id": f"call_{name}", "type": "tool_call"})
    found = json.loads(str(message.content))
    return found if isinstance(found, dict) else {"rows": found}


def store_state(services: Services) -> tuple[Any, ...]:
    with Session(services.engine) as session:
        counts = tuple(
            len(session.exec(select(table)).all())
            for table in (DemoPayment, DemoEmail, DemoActionLog)
        )
    orders = tuple(services.backend.get_order(o) for o in ("ORD-1201", "ORD-1501"))
    return counts, orders


def recorded(services: Services) -> list[ActionExecution]:
    with Session(services.engine) as session:
        query = select(ActionExecution).where(ActionExecution.ticket_id == TICKET)
        return list(session.exec(query).all())


def test_every_tool_taking_an_id_is_covered() -> None:
    ids = {"lookup_order", "shipping_eta", "list_payments"} | WRITE_TOOLS - {"send_password_reset"}
    assert set(FOREIGN_CALLS) == ids
    assert READ_TOOLS - ids == {"recent_orders", "list_invoices"}  # no ids to give


@pytest.mark.parametrize("name", sorted(FOREIGN_CALLS))
def test_foreign_ids_are_denied_and_recorded(
    services: Services, turn: TurnTools, name: str
) -> None:
    before = store_state(services)
    result = call(turn, name, FOREIGN_CALLS[name])
    if name in READ_TOOLS:
        assert result in ({"error": "no such order on this customer's account"}, {"rows": []})
    else:
        assert (result["status"], result["rule_id"]) == ("denied", "ownership.not_found")
        assert "couldn't find that order" in result["reason"]
    [row] = recorded(services)
    assert (row.action, row.status, row.policy_rule) == (
        name, ActionStatus.DENIED, "ownership.not_found"
    )  # fmt: skip
    assert (row.customer_id, row.arguments["order_id"]) == (
        "cust_456",
        FOREIGN_CALLS[name]["order_id"],
    )
    assert row.result is not None and row.result["policy"]["inputs"]["order_found"] is False
    assert store_state(services) == before


def test_identity_cannot_be_passed_to_any_tool(services: Services, turn: TurnTools) -> None:
    for tool in turn.tools:
        fields = set(tool.args)
        assert not fields & {"customer_id", "ticket_id", "user_id", "account_id"}, tool.name
    before = store_state(services)
    result = call(turn, "process_refund", {"order_id": "ORD-1201", "customer_id": "cust_102"})
    assert result["error"].startswith("refused")
    [row] = recorded(services)
    assert (row.status, row.policy_rule) == (ActionStatus.DENIED, "tool.arguments_rejected")
    assert row.arguments == {"order_id": "ORD-1201", "customer_id": "cust_102"}
    assert store_state(services) == before


def test_reset_link_to_another_customers_address_is_denied(
    services: Services, turn: TurnTools
) -> None:
    result = call(turn, "send_password_reset", {"email": "priya.nair@example.com"})
    assert (result["status"], result["rule_id"]) == ("denied", "account.reset.email_not_on_file")
    [row] = recorded(services)
    assert row.result is not None
    assert row.result["policy"]["inputs"]["requested_email"] == "priya.nair@example.com"
    with Session(services.engine) as session:
        assert session.exec(select(DemoEmail)).all() == []


def test_listing_tools_show_only_the_customers_own_data(turn: TurnTools) -> None:
    for name in ("recent_orders", "list_invoices", "list_payments"):
        rows = call(turn, name, {})["rows"]
        assert rows and {row["order_id"] for row in rows} == {"ORD-789", "ORD-790"}, name


@pytest.mark.parametrize("action", ["process_refund", "cancel_order", "update_shipping_address"])
def test_api_actions_on_foreign_orders_are_denied_and_recorded(
    client: TestClient, services: Services, action: str
) -> None:
    ticket_id = send(client, "Where is my order ORD-789?")["ticket_id"]
    before = store_state(services)
    body = {
        "ticket_id": ticket_id,
        "customer_id": "cust_456",
        "action": action,
        "parameters": FOREIGN_CALLS[action],
        "confirmed_by_customer": True,
    }
    response = client.post("/v1/support/action", json=body)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["rule_id"]) == (
        "denied", "ownership.not_found"
    )  # fmt: skip
    actions = client.get(f"/v1/support/tickets/{ticket_id}").json()["actions"]
    assert [(a["action"], a["status"]) for a in actions] == [(action, "denied")]
    assert store_state(services) == before
