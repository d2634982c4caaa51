"""A database made by an earlier version keeps its rows and gains the new nullable columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlmodel import Session

from supportgraph.db.engine import add_missing_columns, create_schema, make_engine
from supportgraph.db.models import CustomerMessage


def test_old_tables_gain_new_nullable_columns_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE customermessage (id VARCHAR(64) PRIMARY KEY, ticket_id VARCHAR(64), "
            "turn INTEGER, role VARCHAR(16), content VARCHAR, channel VARCHAR(32), flags JSON, "
            "sentiment FLOAT, response_latency_ms FLOAT, created_at DATETIME)"
        )
        old.execute(
            "INSERT INTO customermessage (id, ticket_id, turn, role, content, channel, flags, "
            "created_at) VALUES ('m1', 't1', 1, 'customer', 'hello', 'web_chat', '[]', "
            "'2026-11-01 10:00:00.000000')"
        )
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    assert add_missing_columns(engine) == []  # create_schema already added them
    with Session(engine) as session:
        row = session.get(CustomerMessage, "m1")
        assert row is not None and row.content == "hello"
        assert row.prompt_tokens is None
    engine.dispose()
