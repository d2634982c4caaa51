"""What a tool runs with: identity and services injected by the caller, never chosen by a model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from policies.config import PolicyConfig
from supportgraph.commerce.backend import CommerceBackend
from supportgraph.db.models import utcnow
from supportgraph.knowledge.embedder import Embedder


@dataclass(frozen=True)
class ToolContext:
    """The verified customer and ticket, and the services a tool may use."""

    customer_id: str
    ticket_id: str | None
    backend: CommerceBackend
    engine: Engine
    policy: PolicyConfig
    clock: Callable[[], datetime] = field(default=utcnow)
    embedder: Embedder | None = None  # for choosing the sentences of an article answer
