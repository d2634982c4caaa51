"""The drain on SIGTERM: turns in flight finish, new requests get 503, then the server stops."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import httpx
import uvicorn
from fastapi.testclient import TestClient
from testkit import record_counts

from server import create_app
from supportgraph.auth.development import ensure_development_key
from supportgraph.draining import Drain, DrainingServer
from supportgraph.loadtest import free_loopback_port
from supportgraph.services import Services


def test_wait_idle_waits_for_the_last_request_or_gives_up() -> None:
    drain = Drain()
    drain.enter()
    threading.Timer(0.2, drain.leave).start()
    assert drain.wait_idle(5) is True
    drain.enter()
    started = time.monotonic()
    assert drain.wait_idle(0.2) is False
    assert 0.15 < time.monotonic() - started < 2


def test_while_draining_every_request_gets_503_and_nothing_is_stored(
    client: TestClient, services: Services
) -> None:
    before = record_counts(services.engine)
    client.app.state.drain.start()  # type: ignore[attr-defined]
    body = {"customer_id": "cust_456", "message": "where is my order ORD-789?"}
    refused = client.post("/v1/support/message", json=body)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert "shutting down" in refused.json()["detail"]
    assert client.get("/healthz").status_code == 503  # load balancers look elsewhere
    assert record_counts(services.engine) == before


def test_sigterm_lets_the_turn_in_flight_finish_and_refuses_the_next(services: Services) -> None:
    key = ensure_development_key(services.engine, services.settings)
    assert key is not None
    headers = {"Authorization": f"Bearer {key.read_text().strip()}"}
    app = create_app(services=services)
    port = free_loopback_port()
    server = DrainingServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"),
        app.state.drain,
        grace_s=30,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    support = app.state.support
    real = support.handle_message
    turn_started = threading.Event()

    def slow(**kwargs: Any) -> Any:
        turn_started.set()
        time.sleep(1.5)
        return real(**kwargs)

    support.handle_message = slow
    url = f"http://127.0.0.1:{port}/v1/support/message"
    body = {"customer_id": "cust_456", "message": "where is my order ORD-789?"}
    answers: list[httpx.Response] = []
    in_flight = threading.Thread(
        target=lambda: answers.append(httpx.post(url, json=body, headers=headers, timeout=30))
    )
    in_flight.start()
    assert turn_started.wait(30)

    server.handle_exit(signal.SIGTERM, None)
    refused = httpx.post(url, json=body, headers=headers, timeout=30)
    in_flight.join(timeout=30)
    thread.join(timeout=30)

    assert refused.status_code == 503
    [answered] = answers
    assert answered.status_code == 200
    assert "ORD-789" in answered.json()["response"]
    assert not thread.is_alive()  # stopped once the turn finished
