"""Structured logs: one JSON object per line, with the request's and the ticket's ids, masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from conftest import make_settings
from fastapi.testclient import TestClient

from supportgraph.auth.tokens import issue_token
from supportgraph.observability import (
    PII_FILTER,
    UVICORN_LOGGERS,
    JsonFormatter,
    configure_logging,
    uvicorn_log_config,
)
from supportgraph.services import Services

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
FIELDS = {"time", "level", "logger", "message", "request_id", "ticket_id"}


class Lines:
    """What a JSON handler on the root logger wrote, one object per line."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]  # each line is JSON

    def of(self, request_id: str) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["request_id"] == request_id]


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    """A root handler configured as ``configure_logging(log_format="json")`` configures one."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PII_FILTER)
    handler.setFormatter(JsonFormatter())
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield Lines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_requests_lines_name_it_and_its_ticket_and_hide_personal_data(
    client: TestClient, json_lines: Lines
) -> None:
    secret = client.headers["Authorization"].removeprefix("Bearer ")
    message = f"Where is my order ORD-789? Email me at {EMAIL}, my card is {CARD}."
    response = client.post(
        "/v1/support/message",
        json={"customer_id": "cust_456", "message": message},
        headers={"X-Request-ID": "req-abc.123"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "req-abc.123"
    ticket_id = response.json()["ticket_id"]

    lines = json_lines.of("req-abc.123")
    assert lines and all(set(line) >= FIELDS for line in lines)
    assert {line["ticket_id"] for line in lines} == {ticket_id}  # the new ticket, on every one
    [request] = [line for line in lines if line["logger"] == "supportgraph.http"]
    assert request["status"] == 200 and request["method"] == "POST"
    assert request["path"] == "/v1/support/message" and request["duration_ms"] > 0
    [said] = [line for line in lines if line["message"].startswith("customer message:")]
    assert said["level"] == "DEBUG" and "[email]" in said["message"] and "[card]" in said["message"]
    assert "ORD-789" in said["message"]
    assert any(line["message"].startswith("turn 1: ") for line in lines)

    written = json_lines.text
    assert EMAIL not in written and CARD not in written and CARD.replace(" ", "") not in written
    # the secret part may hold "_" itself (URL-safe base64): cut after the id, not at the last "_"
    assert secret not in written and secret.split("_", 2)[2] not in written


def test_ticket_routes_name_the_ticket_and_ids_are_made_when_missing(
    client: TestClient, json_lines: Lines
) -> None:
    made = client.post(
        "/v1/support/message", json={"customer_id": "cust_456", "message": "Where is ORD-789?"}
    )
    ticket_id = made.json()["ticket_id"]
    read = client.get(f"/v1/support/tickets/{ticket_id}")
    assert read.status_code == 200
    request_id = read.headers["X-Request-ID"]
    assert request_id and request_id != made.headers["X-Request-ID"]
    [line] = json_lines.of(request_id)
    assert line["ticket_id"] == ticket_id and line["path"] == f"/v1/support/tickets/{ticket_id}"

    odd = client.get("/healthz", headers={"X-Request-ID": "not plain; <script>"})
    assert odd.headers["X-Request-ID"] != "not plain; <script>"
    [health] = json_lines.of(odd.headers["X-Request-ID"])
    assert health["ticket_id"] is None and health["status"] == 200


def test_refused_credentials_never_reach_a_line(
    client: TestClient, services: Services, json_lines: Lines
) -> None:
    forged = issue_token("another-signing-secret-0123456789abcdef", "cust_456")
    guessed = "sgk_0123456789ab_" + "x" * 43
    for credential in (forged, guessed):
        refused = client.get("/metrics", headers={"Authorization": f"Bearer {credential}"})
        assert refused.status_code == 401
        assert json_lines.of(refused.headers["X-Request-ID"])  # the refusal is logged
    log = logging.getLogger("supportgraph.test")
    log.warning("Authorization: Bearer %s", forged)  # even a careless line is masked
    log.warning("key %s and token %s", guessed, forged)
    written = json_lines.text
    assert forged not in written and guessed not in written and "x" * 43 not in written
    assert forged.split(".")[1] not in written
    masked = [line["message"] for line in json_lines.all() if line["logger"] == "supportgraph.test"]
    assert masked == ["Authorization: Bearer [token]", "key [api-key] and token [token]"]


@pytest.fixture
def saved_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_root = root.handlers[:], root.level
    saved = {
        name: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate, lg.disabled)
        for name in UVICORN_LOGGERS
        if (lg := logging.getLogger(name))
    }
    yield
    root.handlers[:], root.level = saved_root
    for name, (handlers, filters, level, propagate, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.filters[:] = handlers, filters
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


@pytest.mark.usefixtures("saved_logging")
def test_the_setting_chooses_json_or_plain() -> None:
    assert make_settings().log_format == "json"
    assert make_settings(log_format="plain").log_format == "plain"
    for log_format in ("json", "plain"):
        stream = io.StringIO()
        logging.getLogger().handlers[:] = [logging.StreamHandler(stream)]
        configure_logging(logging.INFO, log_format)
        logging.getLogger("supportgraph.test").warning("mail %s", EMAIL)
        [line] = stream.getvalue().splitlines()
        if log_format == "json":
            entry = json.loads(line)
            assert entry["message"] == "mail [email]" and entry["level"] == "WARNING"
        else:
            assert line.endswith("mail [email]") and not line.startswith("{")


@pytest.mark.usefixtures("saved_logging")
def test_the_servers_log_config_writes_json(capsys: pytest.CaptureFixture[str]) -> None:
    uvicorn.Config(
        "server:create_app", factory=True, log_config=uvicorn_log_config(log_format="json")
    )
    logging.getLogger("supportgraph.test").warning("card %s", CARD)
    logging.getLogger("uvicorn.error").error("client %s sent garbage", EMAIL)
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.err.splitlines()]
    assert [line["message"] for line in lines] == ["card [card]", "client [email] sent garbage"]
    assert all(set(line) >= FIELDS for line in lines)
    assert "color_message" not in lines[1] and EMAIL not in captured.err
