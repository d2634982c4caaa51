"""Constants and small helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from graph.builder import build_graph
from supportgraph.auth import keys
from supportgraph.auth.principals import KEY_SCOPES
from supportgraph.bootstrap import PrepareReport
from supportgraph.commerce.demo_tables import DemoPayment
from supportgraph.db import models
from supportgraph.services import Services
from supportgraph.support import SupportService

SPEC_MESSAGE = "I ordered a laptop 3 days ago and it still says processing. Can I get a refund?"
SPEC_BODY: dict[str, Any] = {
    "customer_id": "cust_456",
    "ticket_id": "new",
    "message": SPEC_MESSAGE,
    "channel": "web_chat",
}


class DocumentedClient(TestClient):
    """A test client that holds every answer of the app to its OpenAPI document.

    Each response's status code must be one the route documents, and a refusal's body must
    have the documented shape: a list of located errors for 422, a ``detail`` text otherwise.
    Every API test is then also a test of the document that clients are generated from.
    """

    app: FastAPI

    def __init__(self, app: FastAPI, *, sign_in: bool = True, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.sign_in = sign_in

    def __enter__(self) -> DocumentedClient:
        """Start the app; unless told not to, sign in with a key holding every scope."""
        super().__enter__()
        support = getattr(self.app.state, "support", None)
        if self.sign_in and support is not None:
            created = keys.create_key(
                support.services.engine, principal_id="test-operator", scopes=KEY_SCOPES
            )
            self.headers["Authorization"] = f"Bearer {created.secret}"
        return self

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().request(method, url, **kwargs)
        route = next(
            (
                route
                for route in self.app.routes
                if isinstance(route, APIRoute)
                and method.upper() in route.methods
                and route.path_regex.match(response.request.url.path)
            ),
            None,
        )
        if route is not None:
            _check_documented(self.app.openapi(), route.path_format, method, response)
        return response


def _check_documented(
    document: dict[str, Any], path: str, method: str, response: httpx.Response
) -> None:
    responses = document["paths"][path][method.lower()]["responses"]
    code = str(response.status_code)
    assert code in responses, f"{method} {path} answered {code}, documented: {sorted(responses)}"
    if response.status_code < 400:
        return
    schema = responses[code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    detail = response.json()["detail"]
    if schema == "HTTPValidationError":
        assert isinstance(detail, list) and all({"loc", "msg"} <= set(error) for error in detail)
    else:
        assert schema == "ErrorOut" and isinstance(detail, str), (schema, detail)


def send(
    client: TestClient, message: str, *, ticket_id: str = "new", customer_id: str = "cust_456"
) -> dict[str, Any]:
    """Post a customer message and return the (successful) response body."""
    response = client.post(
        "/v1/support/message",
        json={"customer_id": customer_id, "ticket_id": ticket_id, "message": message},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def refund_payments(services: Services, order_id: str) -> list[DemoPayment]:
    """Refund rows booked on an order in the demo store."""
    with Session(services.engine) as session:
        return list(
            session.exec(
                select(DemoPayment).where(
                    DemoPayment.order_id == order_id, DemoPayment.kind == "refund"
                )
            ).all()
        )


def record_counts(engine: Engine) -> dict[str, int]:
    """How many support records are stored, per table."""
    tables = {
        "tickets": models.SupportTicket,
        "messages": models.CustomerMessage,
        "classifications": models.IntentClassification,
        "actions": models.ActionExecution,
        "escalations": models.EscalationDecision,
    }
    with Session(engine) as session:
        return {
            name: int(session.exec(select(func.count()).select_from(table)).one())
            for name, table in tables.items()
        }


@dataclass(frozen=True)
class Prepared:
    """The session's template: seeded database, article index and trained intent model."""

    root: Path
    database: Path
    chroma_path: Path
    intent_model_dir: Path
    services: Services
    report: PrepareReport


def refund_request(ticket_id: str, *, confirmed: bool = True, **parameters: Any) -> dict[str, Any]:
    """A POST /v1/support/action body refunding cust_456's ORD-789."""
    return {
        "ticket_id": ticket_id,
        "customer_id": "cust_456",
        "action": "process_refund",
        "parameters": {"order_id": "ORD-789", **parameters},
        "confirmed_by_customer": confirmed,
    }


def support_with(services: Services, model: BaseChatModel) -> SupportService:
    """A support service over the same data, with a scripted chat model as its LLM."""
    with_llm = Services(services.settings, embedder=services.embedder, llm=model)
    return SupportService(with_llm, build_graph().compile(checkpointer=InMemorySaver()))


def ai_messages(services: Services, ticket_id: str) -> list[models.CustomerMessage]:
    """The AI's stored replies on a ticket."""
    with Session(services.engine) as session:
        query = select(models.CustomerMessage).where(
            models.CustomerMessage.ticket_id == ticket_id, models.CustomerMessage.role == "ai"
        )
        return list(session.exec(query).all())
