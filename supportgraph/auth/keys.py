"""API keys: created and revoked by an operator, stored as a hash, shown once.

A key reads ``sgk_<id>_<secret>``. The id is public (listed, logged, audited); the secret is
32 random bytes, so a plain SHA-256 of the whole key is enough to store (a slow password hash
protects guessable secrets, and these are not guessable).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from supportgraph.auth.models import ApiKey
from supportgraph.auth.principals import KEY_SCOPES, Principal, PrincipalKind, Scope
from supportgraph.db.engine import session_scope
from supportgraph.db.models import utcnow

PREFIX = "sgk_"
# How long a server trusts what it read of a key: a key revoked by another process (the
# command line) stops working within this many seconds; the same process forgets at once.
KEY_CACHE_S = 5.0


class KeyRefused(Exception):
    """The presented key is not one that may be used; the message says why, never the key."""


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``secret`` is the whole key, to be shown once and never stored."""

    row: ApiKey
    secret: str


def hash_key(presented: str) -> str:
    """What is stored of a key."""
    return hashlib.sha256(presented.encode()).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The public id inside a presented key, or None when it is not shaped like one."""
    parts = presented.removeprefix(PREFIX).split("_", 1)
    if not presented.startswith(PREFIX) or len(parts) != 2 or not parts[0].isalnum():
        return None
    return parts[0][:32]


def parse_scopes(names: Iterable[str]) -> list[Scope]:
    """Scopes a key may hold, in a stable order.

    Raises:
        ValueError: an unknown scope, or ``customer`` (customers prove themselves by token).

    """
    scopes: set[Scope] = set()
    for name in names:
        try:
            scope = Scope(name)
        except ValueError:
            raise ValueError(
                f"unknown scope {name!r}; known: {', '.join(sorted(KEY_SCOPES))}"
            ) from None
        if scope not in KEY_SCOPES:
            raise ValueError(f"a key cannot hold {name!r}; customers use signed tokens")
        scopes.add(scope)
    if not scopes:
        raise ValueError("a key needs at least one scope")
    return sorted(scopes)


def create_key(
    engine: Engine, *, principal_id: str, scopes: Iterable[str], development: bool = False
) -> CreatedKey:
    """Store a new key for ``principal_id`` and return it, the only time it is readable."""
    key_id = secrets.token_hex(6)
    secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=key_id,
        principal_id=principal_id,
        scopes=[scope.value for scope in parse_scopes(scopes)],
        key_hash=hash_key(secret),
        development=development,
    )
    with session_scope(engine) as session:
        session.add(row)
    return CreatedKey(row, secret)


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    with Session(engine) as session:
        return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at))).all())


def revoke_key(engine: Engine, key_id: str) -> ApiKey:
    """Revoke a key now (again is a no-op).

    Raises:
        LookupError: no key has this id.

    """
    with session_scope(engine) as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise LookupError(f"no key {key_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            session.add(row)
    _CACHE.forget(key_id)
    return row


def active_keys(engine: Engine) -> list[ApiKey]:
    """Keys not revoked."""
    return [row for row in list_keys(engine) if row.revoked_at is None]


class _KeyCache:
    """What was read of each key lately, so a request does not query the database."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> tuple[bool, ApiKey | None]:
        with self._lock:
            found = self._rows.get(key_id)
        if found is None or time.monotonic() - found[0] > KEY_CACHE_S:
            return False, None
        return True, found[1]

    def put(self, key_id: str, row: ApiKey | None) -> None:
        with self._lock:
            if len(self._rows) > 10_000:
                self._rows.clear()
            self._rows[key_id] = (time.monotonic(), row)

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._rows.pop(key_id, None)


_CACHE = _KeyCache()


def cached_key(key_id: str) -> tuple[bool, ApiKey | None]:
    """The key row read lately, as (known, row); not known means the database must be read."""
    return _CACHE.get(key_id)


def load_key(engine: Engine, key_id: str) -> ApiKey | None:
    """The key row from the database, remembered for ``KEY_CACHE_S``."""
    with Session(engine) as session:
        row = session.get(ApiKey, key_id)
    _CACHE.put(key_id, row)
    return row


def principal_for_key(presented: str, row: ApiKey | None) -> Principal:
    """The caller a presented key stands for.

    Raises:
        KeyRefused: unknown, altered or revoked.

    """
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(presented)):
        raise KeyRefused("unknown API key")
    if row.revoked_at is not None:
        raise KeyRefused(f"API key {row.id} was revoked")
    return Principal(
        id=row.principal_id,
        kind=PrincipalKind.API_KEY,
        scopes=frozenset(Scope(scope) for scope in row.scopes),
        key_id=row.id,
    )
