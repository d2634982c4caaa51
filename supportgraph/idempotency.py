"""Idempotency-Key handling: one request per key is handled, later ones replay its response.

A key is claimed by inserting its row (unique per customer and key) before the request is
handled, so concurrent requests with one key wait for the first instead of racing it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from supportgraph.db.engine import session_scope
from supportgraph.db.models import IdempotentRequest, utcnow

IN_PROGRESS, DONE = "in_progress", "done"
WAIT_S = 10.0
POLL_S = 0.05
# A claim older than this belongs to a process that died: the next request takes it over
# (safe, because the action layer below executes each proposal once whatever happens here).
STALE = timedelta(minutes=2)


class KeyConflict(RuntimeError):
    """The key was used with another request, or its first request is still running."""


def _find(engine: Engine, customer_id: str, key: str) -> IdempotentRequest | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.exec(
            select(IdempotentRequest).where(
                IdempotentRequest.customer_id == customer_id, IdempotentRequest.key == key
            )
        ).first()


def _insert(engine: Engine, customer_id: str, key: str, request_hash: str) -> bool:
    try:
        with session_scope(engine) as session:
            session.add(
                IdempotentRequest(customer_id=customer_id, key=key, request_hash=request_hash)
            )
    except IntegrityError:
        return False
    return True


def _take_over(engine: Engine, row: IdempotentRequest) -> bool:
    with session_scope(engine) as session:
        result = session.execute(
            update(IdempotentRequest)
            .where(
                col(IdempotentRequest.id) == row.id,
                col(IdempotentRequest.state) == IN_PROGRESS,
                col(IdempotentRequest.started_at) < utcnow() - STALE,
            )
            .values(started_at=utcnow())
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def begin(
    engine: Engine, *, customer_id: str, key: str, request_hash: str, wait_s: float = WAIT_S
) -> dict[str, Any] | None:
    """Claim the key for this request (None), or return the response stored for it.

    Raises:
        KeyConflict: the key came with a different request, or its first request is still
            running after ``wait_s`` seconds.

    """
    deadline = time.monotonic() + wait_s
    while True:
        row = _find(engine, customer_id, key)
        if row is None:
            if _insert(engine, customer_id, key, request_hash):
                return None
            continue
        if row.request_hash != request_hash:
            raise KeyConflict("this Idempotency-Key was already used with a different request")
        if row.state == DONE and row.response is not None:
            return row.response
        if row.started_at < utcnow() - STALE and _take_over(engine, row):
            return None
        if time.monotonic() > deadline:
            raise KeyConflict("a request with this Idempotency-Key is still being processed")
        time.sleep(POLL_S)


def complete(
    engine: Engine, *, customer_id: str, key: str, response: dict[str, Any], action_id: str
) -> None:
    """Store the response to replay for this key."""
    with session_scope(engine) as session:
        session.execute(
            update(IdempotentRequest)
            .where(
                col(IdempotentRequest.customer_id) == customer_id,
                col(IdempotentRequest.key) == key,
            )
            .values(state=DONE, response=response, action_id=action_id, completed_at=utcnow())
        )


def release(engine: Engine, *, customer_id: str, key: str) -> None:
    """Let a key go after its request failed before producing a response."""
    with session_scope(engine) as session:
        session.execute(
            delete(IdempotentRequest).where(
                col(IdempotentRequest.customer_id) == customer_id,
                col(IdempotentRequest.key) == key,
                col(IdempotentRequest.state) == IN_PROGRESS,
            )
        )
