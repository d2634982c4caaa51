"""Locks that let one change at a time touch a ticket's conversation.

A turn reads the ticket's checkpoint, runs, and writes it back; two turns of one ticket at
once would both build on the same checkpoint and one would be lost. Threads of one process
wait on a lock held in memory. The holder then takes a lock every process sharing the
database sees (replicas behind a load balancer, several worker processes): on PostgreSQL a
session-level advisory lock, on a SQLite file an exclusive lock on one of the lock files
beside it (the ticket's key names which). Either is freed when a process that dies holding
it goes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from weakref import WeakValueDictionary

from sqlalchemy import Connection, Engine, text

from supportgraph.file_locks import exclusive

# Advisory locks are keyed by two integers: this one keeps ours apart from other users of the
# same database ("SG").
LOCK_SPACE = 0x5347
_LOCK = text("SELECT pg_advisory_lock(:space, :key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:space, :key)")
# Lock files beside a SQLite database (made as tickets need them): two tickets on one file
# only wait for each other.
FILE_LOCK_SLOTS = 4096


def advisory_key(name: str) -> int:
    """A stable signed 32-bit key for a ticket id or other name (two sharing one just wait)."""
    digest = hashlib.blake2b(name.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class TicketLocks:
    """One lock per ticket, shared by every process on the same database."""

    def __init__(self, engine: Engine) -> None:
        """Lock through this engine's database: PostgreSQL, or a lock file beside SQLite's."""
        self._engine = engine
        self._across_processes = engine.dialect.name == "postgresql"
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        in_memory = not database or database == ":memory:" or database.startswith("file::memory:")
        self._lock_dir = None if in_memory else Path(f"{database}-ticket-locks")
        # Weak values: a ticket's lock lives while someone holds or waits for it, so a server
        # that has seen a million tickets does not keep a million locks.
        self._local: WeakValueDictionary[str, threading.Lock] = WeakValueDictionary()
        self._guard = threading.Lock()

    def __len__(self) -> int:
        """Tickets whose lock this process holds or waits for."""
        return len(self._local)

    @contextmanager
    def hold(self, ticket_id: str) -> Iterator[None]:
        """Hold the ticket's lock, waiting for whoever holds it here or in another process.

        Threads of this process queue in memory first, so only one of them at a time holds a
        database connection or a lock file for the ticket.
        """
        with self._guard:
            local = self._local.get(ticket_id)
            if local is None:
                local = self._local[ticket_id] = threading.Lock()
        key = advisory_key(ticket_id)
        with local:
            if self._lock_dir is not None:
                with exclusive(self._lock_dir / f"{key % FILE_LOCK_SLOTS:03x}"):
                    yield
                return
            if not self._across_processes:
                yield
                return
            with self._engine.connect() as connection:
                autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
                with _advisory_lock(autocommit, key):
                    yield


@contextmanager
def _advisory_lock(connection: Connection, key: int) -> Iterator[None]:
    """A session-level advisory lock, released on the way out whatever happened inside."""
    connection.execute(_LOCK, {"space": LOCK_SPACE, "key": key})
    try:
        yield
    finally:
        try:
            connection.execute(_UNLOCK, {"space": LOCK_SPACE, "key": key})
        except Exception:
            # The connection broke: closing it is what frees the lock on the server.
            connection.invalidate()
            raise
