"""The trust boundary beyond the route table: tokens, rotation, limits, audit and secrets."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from authkit import OTHER, OWNER, PREVIOUS_SECRET, SECRET, World, bearer, open_world, snapshot
from conftest import make_settings
from sqlmodel import Session, SQLModel, select
from testkit import SPEC_MESSAGE, Prepared

from supportgraph.auth import keys
from supportgraph.auth.development import ensure_development_key, network_refusal
from supportgraph.auth.principals import Principal, PrincipalKind, Scope
from supportgraph.auth.rate_limits import RateLimited, RateLimits
from supportgraph.auth.tokens import issue_token
from supportgraph.db import models
from supportgraph.services import Services


@pytest.fixture
def make_world(
    services_factory: Callable[..., Services], prepared: Prepared, tmp_path: Path
) -> Iterator[Callable[..., World]]:
    """Opens the app with settings of the test's choosing (a token secret by default)."""
    opened: list[Iterator[World]] = []

    def make(**settings: Any) -> World:
        values = {"token_secret": SECRET, "token_secret_previous": PREVIOUS_SECRET, **settings}
        worlds = open_world(services_factory(**values), prepared, tmp_path / f"w{len(opened)}")
        opened.append(worlds)
        return next(worlds)

    yield make
    for worlds in opened:
        next(worlds, None)


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    part = _segments(token)[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _forgeries() -> dict[str, str]:
    genuine = issue_token(SECRET, OWNER)
    header, _, signature = _segments(genuine)
    payload = _payload(genuine)
    return {
        "altered_id": f"{header}.{_b64({**payload, 'sub': OTHER})}.{signature}",
        "altered_expiry": f"{header}.{_b64({**payload, 'exp': payload['exp'] + 9})}.{signature}",
        "wrong_secret": issue_token("some-other-secret-0123456789abcdefgh", OWNER),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}.",
        "no_expiry": jwt.encode({"sub": OWNER}, SECRET, algorithm="HS256"),
        "act_as_scope": issue_token(SECRET, "web", scopes=["customer:act-as"]),
        "subject_not_an_id": issue_token(SECRET, "cust 456; DROP TABLE"),
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("forgery", list(_forgeries()))
def test_a_forged_token_is_refused(world: World, forgery: str) -> None:
    ticket_id = world.ticket()
    token = _forgeries()[forgery]
    response = world.client.get(f"/v1/support/tickets/{ticket_id}", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert token not in response.text


def test_tokens_of_the_previous_secret_are_accepted_during_a_rotation(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    ticket_id = world.ticket()
    old = issue_token(PREVIOUS_SECRET, OWNER)
    assert (
        world.client.get(f"/v1/support/tickets/{ticket_id}", headers=bearer(old)).status_code == 200
    )
    rotated = make_world(token_secret_previous=None)  # the rotation is over
    ticket_id = rotated.ticket()
    assert (
        rotated.client.get(f"/v1/support/tickets/{ticket_id}", headers=bearer(old)).status_code
        == 401
    )


def test_a_staff_token_acts_as_its_agent_only(world: World) -> None:
    token = bearer(issue_token(SECRET, "alice", scopes=["agent"]))
    assert world.client.get("/v1/agents/alice", headers=token).status_code == 200
    assert world.client.get("/v1/agents/bob", headers=token).status_code == 403
    body = {"customer_id": OWNER, "message": "Where is my order?"}
    assert world.client.post("/v1/support/message", json=body, headers=token).status_code == 403


def test_a_customer_cannot_post_into_another_customers_ticket(world: World) -> None:
    ticket_id = world.ticket()
    before = snapshot(world, ticket_id)
    attempts = [
        ("other_token", {"ticket_id": ticket_id, "message": "refund it all to me"}),
        ("other_token", {"customer_id": OTHER, "ticket_id": ticket_id, "message": "refund it"}),
        ("gateway_key", {"customer_id": OTHER, "ticket_id": ticket_id, "message": "refund it"}),
    ]
    for credential, body in attempts:
        response = world.call(credential, "POST", "/v1/support/message", body)
        assert response.status_code == 404, (credential, body, response.text)
    assert world.call("other_token", "GET", f"/v1/support/tickets/{ticket_id}").status_code == 404
    action = {"ticket_id": ticket_id, "customer_id": OTHER, "action": "process_refund",
              "parameters": {"order_id": "ORD-789"}, "confirmed_by_customer": True}  # fmt: skip
    assert world.call("gateway_key", "POST", "/v1/support/action", action).status_code == 404
    assert snapshot(world, ticket_id) == before


def test_an_action_is_bound_to_the_tickets_customer(world: World) -> None:
    ticket_id = world.ticket(SPEC_MESSAGE)
    body = {"ticket_id": ticket_id, "action": "process_refund",
            "parameters": {"order_id": "ORD-789"}, "confirmed_by_customer": True}  # fmt: skip
    response = world.call("gateway_key", "POST", "/v1/support/action", body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "executed"
    with Session(world.services.engine) as session:
        action = session.exec(select(models.ActionExecution)).one()
    assert action.customer_id == OWNER and action.ticket_id == ticket_id


def test_a_burst_beyond_the_limit_gets_429_and_the_accepted_messages_are_stored_once(
    make_world: Callable[..., World],
) -> None:
    world = make_world(rate_limit_customer_messages="5/minute")

    def post(index: int) -> Any:
        body = {"message": f"Where is my order ORD-789? (asking {index})"}
        return world.call("owner_token", "POST", "/v1/support/message", body)

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(post, range(12)))
    accepted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(accepted) == 5 and len(refused) == 7
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
    assert "messages per customer" in refused[0].json()["detail"]
    with Session(world.services.engine) as session:
        stored = [
            m.content for m in session.exec(select(models.CustomerMessage)) if m.role == "customer"
        ]
    sent = [r.request.content for r in accepted]
    assert sorted(stored) == sorted(json.loads(body)["message"] for body in sent)


def test_a_key_has_its_own_limit_across_customers_and_actions_have_theirs(
    make_world: Callable[..., World],
) -> None:
    world = make_world(rate_limit_key_messages="3/minute", rate_limit_customer_actions="1/minute")
    statuses = [
        world.call(
            "gateway_key", "POST", "/v1/support/message", {"customer_id": customer, "message": "hi"}
        ).status_code
        for customer in ("cust_456", "cust_101", "cust_2000", "cust_2001")
    ]
    assert statuses == [200, 200, 200, 429]
    ticket_id = world.ticket(SPEC_MESSAGE)
    body = {"ticket_id": ticket_id, "action": "process_refund",
            "parameters": {"order_id": "ORD-789"}, "confirmed_by_customer": False}  # fmt: skip
    first = world.call("owner_token", "POST", "/v1/support/action", body)
    assert first.status_code == 200
    second = world.call("owner_token", "POST", "/v1/support/action", body)
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1


def test_a_body_over_the_cap_is_413_and_stores_nothing(make_world: Callable[..., World]) -> None:
    world = make_world(max_body_bytes=4096)
    before = snapshot(world)
    big = json.dumps({"customer_id": OWNER, "message": "x" * 3000, "pad": "y" * 5000})
    declared = world.client.post(
        "/v1/support/message",
        content=big,
        headers={**world.headers["gateway_key"], "content-type": "application/json"},
    )
    streamed = world.client.post(
        "/v1/support/message",
        content=iter([big[:3000].encode(), big[3000:].encode()]),  # chunked: no Content-Length
        headers={**world.headers["gateway_key"], "content-type": "application/json"},
    )
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert "4096 bytes" in response.json()["detail"]
    assert snapshot(world) == before


def test_the_ticket_view_shows_agents_who_accessed_it(world: World) -> None:
    ticket_id = world.ticket()
    assert world.call("owner_token", "POST", "/v1/support/message",
                      {"ticket_id": ticket_id, "message": "thanks"}).status_code == 200  # fmt: skip
    assert (
        world.call("gateway_key", "GET", f"/v1/support/tickets/{ticket_id}/messages").status_code
        == 200
    )
    world.call("agent_key", "GET", f"/v1/support/tickets/{ticket_id}")
    view = world.call("admin_key", "GET", f"/v1/support/tickets/{ticket_id}").json()
    log = [
        (r["principal_id"], r["principal_kind"], r["scope"], r["operation"])
        for r in view["access_log"]
    ]
    assert log == [
        (OWNER, "customer_token", "customer", "message"),
        ("web-backend", "api_key", "customer:act-as", "read:messages"),
        ("alice", "api_key", "agent", "read"),
    ]
    own = world.call("owner_token", "GET", f"/v1/support/tickets/{ticket_id}").json()
    assert "access_log" not in own  # who works on a ticket is for staff


def test_no_secret_appears_in_logs_records_or_error_bodies(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary_key = "sgk_0badc0ffee00_CANARYSECRET" + "z" * 30
    canary_token = issue_token("canary-secret-that-nobody-configured-0123", OWNER)
    bodies = []
    ticket_id = world.ticket()
    for header in (bearer(canary_key), bearer(canary_token), {"Authorization": canary_key}):
        response = world.client.get(f"/v1/support/tickets/{ticket_id}", headers=header)
        assert response.status_code in (401, 403)
        bodies.append(response.text)
    good = world.headers["gateway_key"]["Authorization"].removeprefix("Bearer ")
    assert world.call("gateway_key", "GET", f"/v1/support/tickets/{ticket_id}").status_code == 200
    with Session(world.services.engine) as session:
        stored = json.dumps(
            [
                row.model_dump(mode="json")
                for table in SQLModel.metadata.sorted_tables
                if (model := _model_of(table.name)) is not None
                for row in session.exec(select(model))
            ]
        )
    for secret in (canary_key, "CANARYSECRET", canary_token, good, SECRET):
        assert secret not in caplog.text
        assert not any(secret in body for body in bodies)
        assert secret not in stored
    assert "authentication refused" in caplog.text  # the failures are logged, without secrets


def _model_of(table_name: str) -> Any:
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        if mapper.local_table.name == table_name:
            return mapper.class_
    return None


def test_repeated_failures_are_logged_and_lock_nobody_out(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ticket_id = world.ticket()
    for _ in range(25):
        assert world.call("wrong_key", "GET", f"/v1/support/tickets/{ticket_id}").status_code == 401
    assert "repeated authentication failures from testclient" in caplog.text
    assert world.call("gateway_key", "GET", f"/v1/support/tickets/{ticket_id}").status_code == 200


def test_a_revoked_key_stops_working(world: World) -> None:
    created = keys.create_key(world.services.engine, principal_id="web2", scopes=["admin"])
    assert (
        world.client.get("/v1/support/analytics", headers=bearer(created.secret)).status_code == 200
    )
    keys.revoke_key(world.services.engine, created.row.id)
    refused = world.client.get("/v1/support/analytics", headers=bearer(created.secret))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_reports_scope_reads_analytics_only(world: World) -> None:
    reports = bearer(
        keys.create_key(world.services.engine, principal_id="lead", scopes=["reports"]).secret
    )
    assert world.client.get("/v1/support/analytics", headers=reports).status_code == 200
    assert world.client.get("/v1/agents/queue", headers=reports).status_code == 403


def test_docs_can_be_switched_off(make_world: Callable[..., World]) -> None:
    world = make_world(openapi_docs=False)
    assert world.client.get("/docs").status_code == 404
    assert world.client.get("/openapi.json").status_code == 404
    assert world.client.get("/healthz").status_code == 200


def test_the_development_key_and_the_network_refusal(services: Services) -> None:
    engine, settings = services.engine, services.settings
    assert network_refusal(engine, settings, "127.0.0.1") is None
    assert "no credentials configured" in (network_refusal(engine, settings, "0.0.0.0") or "")
    path = ensure_development_key(engine, settings)
    assert path is not None and os.stat(path).st_mode & 0o777 == 0o600
    presented = path.read_text().strip()
    assert (
        ensure_development_key(engine, settings) == path and path.read_text().strip() == presented
    )
    [row] = keys.active_keys(engine)
    assert row.development and keys.principal_for_key(presented, row).has(Scope.ADMIN)
    assert "development key is active" in (network_refusal(engine, settings, "0.0.0.0") or "")
    keys.revoke_key(engine, row.id)
    keys.create_key(engine, principal_id="web-backend", scopes=["customer:act-as"])
    assert network_refusal(engine, settings, "0.0.0.0") is None
    assert ensure_development_key(engine, settings) is None  # an operator's keys exist: none made


def _gateway(key_id: str) -> Principal:
    return Principal("web-backend", PrincipalKind.API_KEY, frozenset({Scope.ACT_AS}), key_id)


def test_a_window_refuses_past_its_limit_and_opens_again_when_over() -> None:
    limits = RateLimits(make_settings(rate_limit_customer_messages="2/2second"))
    gateway = _gateway("k1")
    limits.message(gateway, "cust_1")
    limits.message(gateway, "cust_1")
    limits.message(gateway, "cust_2")  # another customer has a window of their own
    with pytest.raises(RateLimited) as refused:
        limits.message(gateway, "cust_1")
    assert refused.value.retry_after_s == 2
    time.sleep(2.05)
    limits.message(gateway, "cust_1")


def test_processes_sharing_redis_share_the_counters() -> None:
    url = "redis://127.0.0.1:6379"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings = make_settings(rate_limit_storage=url, rate_limit_key_messages="3/minute")
    first, second = RateLimits(settings), RateLimits(settings)  # as two server processes
    gateway = _gateway(f"k-{uuid.uuid4().hex}")
    first.message(gateway, "cust_1")
    second.message(gateway, "cust_2")
    first.message(gateway, "cust_3")
    with pytest.raises(RateLimited, match="messages per key") as refused:
        second.message(gateway, "cust_4")
    assert 1 <= refused.value.retry_after_s <= 60
