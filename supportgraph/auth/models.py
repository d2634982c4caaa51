"""The stored side of the trust boundary: API keys (hashed) and who accessed which ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from supportgraph.db.models import new_id, utcnow


class ApiKey(SQLModel, table=True):
    """An API key: only its SHA-256 is kept; the key itself is shown once, at creation."""

    id: str = Field(primary_key=True, max_length=32, description="public id, part of the key")
    principal_id: str = Field(index=True, max_length=64, description="who the key speaks as")
    scopes: list[str] = Field(default_factory=list, sa_type=JSON)
    key_hash: str = Field(max_length=64)
    development: bool = Field(default=False, description="the local key made on first start")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class AccessRecord(SQLModel, table=True):
    """Who read or changed a ticket through the API, and with which scope."""

    id: str = Field(default_factory=lambda: new_id("acc"), primary_key=True, max_length=64)
    ticket_id: str = Field(index=True, max_length=64)
    principal_id: str = Field(max_length=64)
    principal_kind: str = Field(max_length=16)
    scope: str = Field(max_length=32, description="the scope that granted the access")
    key_id: str | None = Field(default=None, max_length=32)
    operation: str = Field(max_length=32, description="message, action, read, claim, ...")
    created_at: datetime = Field(default_factory=utcnow, index=True)
