"""Credentials of every kind over one app, for the trust-boundary tests."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
from sqlmodel import Session, SQLModel, func, select
from testkit import DocumentedClient, Prepared

from server import create_app
from supportgraph.agents.models import SupportAgent
from supportgraph.agents.workflow import claim, register_agent
from supportgraph.auth import keys
from supportgraph.auth.tokens import issue_token
from supportgraph.db import models
from supportgraph.escalations import escalate_ticket
from supportgraph.services import Services
from supportgraph.support import SupportService

SECRET = "current-signing-secret-0123456789abcdef"
PREVIOUS_SECRET = "previous-signing-secret-0123456789abcdef"
OWNER, OTHER = "cust_456", "cust_101"
UNAUTHENTICATED = ("none", "wrong_key", "revoked_key", "expired_token")
CREDENTIALS = (
    *UNAUTHENTICATED,
    "owner_token",
    "other_token",
    "gateway_key",
    "agent_key",
    "other_agent_key",
    "admin_key",
)


@dataclass
class World:
    """A running app, a header per credential, and the support service behind it."""

    client: DocumentedClient
    headers: dict[str, dict[str, str]]
    secrets: list[str]

    @property
    def support(self) -> SupportService:
        support: SupportService = self.client.app.state.support
        return support

    @property
    def services(self) -> Services:
        return self.support.services

    def call(self, credential: str, method: str, path: str, body: Any = None) -> Any:
        """Send a request with one credential (a JSON body when given)."""
        kwargs: dict[str, Any] = {"headers": self.headers[credential]}
        if body is not None:
            kwargs["json"] = body
        return self.client.request(method, path, **kwargs)

    # Targets, made through the services (no HTTP, so no credential is involved).
    def ticket(self, message: str = "Where is my order ORD-789?") -> str:
        return self.support.handle_message(
            ticket_id=None, customer_id=OWNER, message=message
        ).ticket_id

    def escalated(self) -> str:
        ticket_id = self.ticket()
        escalate_ticket(self.support, ticket_id=ticket_id, customer_id=OWNER, reason="a person")
        return ticket_id

    def claimed(self) -> str:
        ticket_id = self.escalated()
        claim(self.services, agent_id="alice", ticket_id=ticket_id)
        return ticket_id


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def open_world(services: Services, prepared: Prepared, tmp_path: Path) -> Iterator[World]:
    """The app over a private copy of the knowledge index (resolutions write to it)."""
    copy = tmp_path / "chroma"
    shutil.copytree(prepared.chroma_path, copy)
    services.__dict__["chroma"] = chromadb.PersistentClient(
        path=str(copy), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    with DocumentedClient(create_app(services=services), sign_in=False) as client:
        engine = services.engine
        for agent_id in ("alice", "bob"):
            register_agent(
                engine, agent_id=agent_id, name=agent_id.title(), skills=["*"], capacity=100
            )

        def key(principal: str, *scopes: str) -> str:
            return keys.create_key(engine, principal_id=principal, scopes=scopes).secret

        revoked = keys.create_key(engine, principal_id="old-backend", scopes=["customer:act-as"])
        keys.revoke_key(engine, revoked.row.id)
        headers = {
            "none": {},
            "wrong_key": bearer("sgk_0123456789ab_" + "x" * 43),
            "revoked_key": bearer(revoked.secret),
            "owner_token": bearer(issue_token(SECRET, OWNER)),
            "other_token": bearer(issue_token(SECRET, OTHER)),
            "expired_token": bearer(issue_token(SECRET, OWNER, ttl_s=60, now=time.time() - 3600)),
            "gateway_key": bearer(key("web-backend", "customer:act-as")),
            "agent_key": bearer(key("alice", "agent")),
            "other_agent_key": bearer(key("bob", "agent")),
            "admin_key": bearer(key("root", "admin")),
        }
        yield World(client, headers, [SECRET, PREVIOUS_SECRET])


def snapshot(world: World, ticket_id: str | None = None) -> dict[str, Any]:
    """Every table's row count, every ticket, action and agent, and the ticket's checkpoint."""
    engine = world.services.engine
    with Session(engine) as session:
        counts = {
            table.name: int(session.exec(select(func.count()).select_from(table)).one())
            for table in SQLModel.metadata.sorted_tables
        }
        rows = {
            model.__name__: sorted(
                (row.model_dump(mode="json") for row in session.exec(select(model)).all()),
                key=lambda row: str(row.get("id")),
            )
            for model in (models.SupportTicket, models.ActionExecution, SupportAgent)
        }
    state = {}
    if ticket_id:
        state = dict(world.support.graph.get_state(world.support.config(ticket_id)).values)
    return {"counts": counts, "rows": rows, "turn": state.get("turn")}
