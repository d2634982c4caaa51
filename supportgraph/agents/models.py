"""The human agents who take escalated tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from supportgraph.db.models import utcnow


class SupportAgent(SQLModel, table=True):
    """A person who works the queue: what they can handle, and how much at once."""

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128)
    skills: list[str] = Field(
        default_factory=list, sa_type=JSON, description="intents they handle; '*' for any"
    )
    capacity: int = Field(default=3, description="most tickets assigned to them at once")
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
