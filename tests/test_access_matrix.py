"""Every route × every kind of credential: exactly the intended cells succeed.

Each cell gets its own target (a ticket made through the services), so that one allowed cell
cannot change what the next one sees. A refused cell must answer 401/403/404 with a reason
and leave every table, every ticket, action and agent, and the ticket's checkpoint unchanged.
An allowed cell must answer 200 and, on a ticket, record who did it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from authkit import CREDENTIALS, OWNER, UNAUTHENTICATED, World, open_world, snapshot
from fastapi.routing import APIRoute
from sqlmodel import Session, col, select
from starlette.routing import compile_path
from testkit import SPEC_MESSAGE, Prepared

from supportgraph.agents.workflow import claim
from supportgraph.auth.models import AccessRecord
from supportgraph.commerce.demo_tables import DemoOrder
from supportgraph.db.engine import session_scope
from supportgraph.db.models import ActionExecution
from supportgraph.services import Services

PRINCIPAL_OF = {
    "owner_token": OWNER,
    "gateway_key": "web-backend",
    "agent_key": "alice",
    "other_agent_key": "bob",
    "admin_key": "root",
}
STAFF = frozenset({"agent_key", "other_agent_key", "admin_key"})
CUSTOMER_SIDE = frozenset({"owner_token", "gateway_key"})


@dataclass(frozen=True)
class Route:
    """One request, the target it needs, and who may make it."""

    method: str
    path: str
    body: dict[str, Any] | None
    allowed: frozenset[str]
    target: str | None = None  # none, "ticket", "proposal", "escalated", "claimed"
    hidden: frozenset[str] = field(default_factory=frozenset)  # answered 404

    def expected(self, credential: str) -> int:
        if credential in UNAUTHENTICATED:
            return 401
        if credential in self.allowed:
            return 200
        return 404 if credential in self.hidden else 403


ROUTES = {
    "message_new": Route(
        "POST",
        "/v1/support/message",
        {"customer_id": OWNER, "message": "Where is my order?"},
        CUSTOMER_SIDE,
    ),
    "message_existing": Route(
        "POST",
        "/v1/support/message",
        {"customer_id": OWNER, "ticket_id": "{t}", "message": "and when will it arrive?"},
        CUSTOMER_SIDE,
        target="ticket",
    ),
    "action": Route(
        "POST",
        "/v1/support/action",
        {
            "ticket_id": "{t}",
            "action": "process_refund",
            "parameters": {"order_id": "ORD-789"},
            "confirmed_by_customer": True,
        },
        CUSTOMER_SIDE,
        target="proposal",
        hidden=frozenset({"other_token"}),
    ),
    "escalate": Route(
        "POST",
        "/v1/support/escalate",
        {"ticket_id": "{t}", "reason": "I would like a person"},
        CUSTOMER_SIDE,
        target="ticket",
        hidden=frozenset({"other_token"}),
    ),
    "csat": Route(
        "POST",
        "/v1/support/csat",
        {"ticket_id": "{t}", "score": 4},
        CUSTOMER_SIDE,
        target="ticket",
        hidden=frozenset({"other_token"}),
    ),
    "ticket_read": Route(
        "GET",
        "/v1/support/tickets/{t}",
        None,
        CUSTOMER_SIDE | STAFF,
        target="ticket",
        hidden=frozenset({"other_token"}),
    ),
    "messages_read": Route(
        "GET",
        "/v1/support/tickets/{t}/messages",
        None,
        CUSTOMER_SIDE | STAFF,
        target="ticket",
        hidden=frozenset({"other_token"}),
    ),
    "analytics": Route("GET", "/v1/support/analytics", None, frozenset({"admin_key"})),
    "metrics": Route("GET", "/metrics", None, frozenset({"admin_key"})),
    "queue": Route("GET", "/v1/agents/queue", None, STAFF, target="escalated"),
    "queue_as_alice": Route(
        "GET", "/v1/agents/queue?agent_id=alice", None, frozenset({"agent_key", "admin_key"})
    ),
    "register_agent": Route(
        "PUT",
        "/v1/agents/carol",
        {"name": "Carol", "skills": ["*"], "capacity": 2},
        frozenset({"admin_key"}),
    ),
    "read_agent": Route("GET", "/v1/agents/alice", None, frozenset({"agent_key", "admin_key"})),
    "claim": Route(
        "POST",
        "/v1/agents/alice/claim",
        {"ticket_id": "{t}"},
        frozenset({"agent_key", "admin_key"}),
        target="escalated",
    ),
    "reply": Route(
        "POST",
        "/v1/agents/alice/tickets/{t}/reply",
        {"message": "Alice here: I am looking into it now."},
        frozenset({"agent_key", "admin_key"}),
        target="claimed",
    ),
    "resolve": Route(
        "POST",
        "/v1/agents/alice/tickets/{t}/resolve",
        {
            "correct_intent": "order_status",
            "answer": "It ships tomorrow.",
            "correction_type": "none",
        },
        frozenset({"agent_key", "admin_key"}),
        target="claimed",
    ),
}

# --- Approvals: an agent's decision on a proposal that policy left for a person ---------------
# Target "approval": a ticket alice holds with a refund over the auto-approve ceiling waiting
# for a person; "{a}" in a path is that action's id.
APPROVAL_PROBE = "I want a refund for order ORD-1202, the monitor has dead pixels"
AWAITING: dict[str, str] = {}  # ticket id -> the action waiting for a person on it
ROUTES.update(
    {
        "approve": Route(
            "POST",
            "/v1/agents/alice/tickets/{t}/actions/{a}/approve",
            {"note": "Checked the photos."},
            frozenset({"agent_key", "admin_key"}),
            target="approval",
        ),
        "reject": Route(
            "POST",
            "/v1/agents/alice/tickets/{t}/actions/{a}/reject",
            {"note": "Please send a photo first."},
            frozenset({"agent_key", "admin_key"}),
            target="approval",
        ),
    }
)


def _awaiting_approval(world: World) -> str:
    with session_scope(world.services.engine) as session:  # as seeded, whatever a cell refunded
        order = session.get(DemoOrder, "ORD-1202")
        assert order is not None
        order.status, order.refunded_cents = "delivered", 0
    ticket_id = world.support.handle_message(
        ticket_id=None, customer_id="cust_102", message=APPROVAL_PROBE
    ).ticket_id
    claim(world.services, agent_id="alice", ticket_id=ticket_id)
    with Session(world.services.engine) as session:
        [action] = session.exec(
            select(ActionExecution).where(
                ActionExecution.ticket_id == ticket_id, col(ActionExecution.requires_human)
            )
        ).all()
    AWAITING[ticket_id] = action.id
    return ticket_id


# --- end of approvals ----------------------------------------------------------------------


@pytest.fixture
def world(
    services_factory: Callable[..., Services], prepared: Prepared, tmp_path: Path
) -> Iterator[World]:
    services = services_factory(token_secret="current-signing-secret-0123456789abcdef")
    yield from open_world(services, prepared, tmp_path)


def _target(world: World, kind: str | None) -> str | None:
    makers: dict[str, Callable[[], str]] = {
        "ticket": world.ticket,
        "proposal": lambda: world.ticket(SPEC_MESSAGE),
        "escalated": world.escalated,
        "claimed": world.claimed,
        "approval": lambda: _awaiting_approval(world),
    }
    return makers[kind]() if kind else None


def _fill(value: Any, ticket_id: str | None) -> Any:
    if isinstance(value, str):
        action_id = AWAITING.get(ticket_id or "", "a1")  # approvals: "{a}"
        return value.replace("{t}", ticket_id or "").replace("{a}", action_id)
    if isinstance(value, dict):
        return {key: _fill(item, ticket_id) for key, item in value.items()}
    return value


def _access_records(world: World, ticket_id: str) -> list[AccessRecord]:
    with Session(world.services.engine) as session:
        return list(session.exec(select(AccessRecord).where(AccessRecord.ticket_id == ticket_id)))


# Outside the table: what needs no credential (the pages hold none of their own and call the
# API; help articles are published), the demo sign-in (test_live.py shows it is off unless the
# development key is active) and the event streams, which never end on success, so
# test_live.py checks their refusals and what they send.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/"),
    ("GET", "/chat"),
    ("GET", "/console"),
    ("GET", "/dashboard"),
    ("GET", "/widget.js"),
    ("GET", "/help/{article_id}"),
}
DEMO = {("GET", "/v1/demo"), ("POST", "/v1/demo/sign-in")}
STREAMS = {("GET", "/v1/support/tickets/{ticket_id}/events"), ("GET", "/v1/agents/queue/events")}


def served_routes(app: Any) -> Iterator[tuple[str, str]]:
    """Every (method, path format) the app serves, routes of included routers too.

    FastAPI keeps an included router as one entry of ``app.routes`` and resolves its routes
    when a request comes, so they are read from its route contexts.
    """
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield from ((method, route.path_format) for method in route.methods)
        for context in getattr(route, "effective_route_contexts", list)():
            if isinstance(context.original_route, APIRoute):
                yield from ((method, context.path) for method in context.original_route.methods)


def test_the_table_covers_every_route(world: World) -> None:
    every = set(served_routes(world.client.app))
    assert {("GET", "/v1/agents/queue"), ("GET", "/chat")} <= every  # routers are read
    covered = {
        (method, path)
        for method, path in every
        for route in ROUTES.values()
        if route.method == method
        and compile_path(path)[0].match(_fill(route.path, "t1").split("?")[0])
    }
    assert every - covered == PUBLIC | DEMO | STREAMS


@pytest.mark.parametrize("name", ROUTES)
def test_only_the_intended_callers_get_through(world: World, name: str) -> None:
    route = ROUTES[name]
    outcomes = {}
    for credential in CREDENTIALS:
        ticket_id = _target(world, route.target)
        before = snapshot(world, ticket_id)
        response = world.call(
            credential, route.method, _fill(route.path, ticket_id), _fill(route.body, ticket_id)
        )
        outcomes[credential] = response.status_code
        if response.status_code != 200:
            detail = response.json()["detail"]
            assert detail, (credential, response.text)
            assert snapshot(world, ticket_id) == before, f"{credential} changed stored state"
            continue
        if ticket_id and route.path != "/v1/agents/queue":
            who = {(r.principal_id, r.principal_kind) for r in _access_records(world, ticket_id)}
            assert any(principal == PRINCIPAL_OF[credential] for principal, _ in who), who
    assert outcomes == {credential: route.expected(credential) for credential in CREDENTIALS}
