"""The checkpointer: SQLite in the data directory by default, PostgreSQL at scale."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from supportgraph.db.ticket_locks import LOCK_SPACE, advisory_key

SETUP_LOCK = "checkpoint-schema"


def _postgres_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _one_setup_at_a_time(connection: Connection[Any]) -> None:
    """Take the setup lock; it goes with the connection.

    Servers starting together would each run the saver's migrations and collide on its
    migrations table. Waiting inside ``pg_advisory_lock`` would deadlock: a migration builds an
    index concurrently, which waits for every open statement, the waiting one included.
    """
    key = (LOCK_SPACE, advisory_key(SETUP_LOCK))
    while True:
        row = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
        if row and row[0]:
            return
        time.sleep(0.1)


@contextmanager
def open_checkpointer(url: str) -> Iterator[BaseCheckpointSaver[str]]:
    """A ready checkpointer for a ``sqlite:///path`` or ``postgresql://`` URL, closed on exit."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # As for the records' database: with WAL, NORMAL survives a crash of the process and
        # skips an fsync per commit (1.2 ms each here, a dozen commits a turn, under one lock).
        connection.execute("PRAGMA synchronous=NORMAL")
        try:
            saver = SqliteSaver(connection)
            saver.setup()
            yield saver
        finally:
            connection.close()
        return
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        conninfo = _postgres_conninfo(url.replace("postgres://", "postgresql://", 1))
        with ConnectionPool(
            conninfo,
            min_size=1,
            max_size=10,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        ) as pool:
            with Connection.connect(conninfo, autocommit=True) as setup_connection:
                _one_setup_at_a_time(setup_connection)
                PostgresSaver(setup_connection).setup()  # type: ignore[arg-type]
            yield PostgresSaver(pool)  # type: ignore[arg-type]
        return
    raise ValueError(f"unsupported checkpoint URL: {url}")
