"""Per-key and per-customer limits on messages and actions, and the count of failed sign-ins.

Limits are fixed windows (``60/minute``): ``Retry-After`` is exactly when the window ends.
Several processes share counters in Redis (``SUPPORTGRAPH_RATE_LIMIT_STORAGE=redis://...``),
counted by the ``limits`` library. One process counts in memory here: the library's memory
storage starts a thread every 10 ms to expire counters while requests arrive, which cost
0.45 ms of CPU per message at 75 messages a second; a window that restarts when it is over
costs nothing between requests.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from supportgraph.auth.principals import Principal
from supportgraph.settings import Settings

log = logging.getLogger(__name__)

# Failed sign-ins from one client address beyond this are logged as repeated; nobody is
# locked out (a lockout would let anyone lock a customer out by failing on purpose).
REPEATED_FAILURES = "20/minute"


class RateLimited(Exception):
    """Too many requests; ``retry_after_s`` says when the next one may be accepted."""

    def __init__(self, what: str, retry_after_s: int) -> None:
        """Name the limit that was reached and when to try again."""
        super().__init__(f"rate limit reached: {what}; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class _Limit:
    name: str
    item: RateLimitItem | None


class _Counter(Protocol):
    def hit(self, item: RateLimitItem, *identifiers: str) -> bool: ...

    def retry_after(self, item: RateLimitItem, *identifiers: str) -> int: ...


class _SharedWindows:
    """Fixed windows in the configured ``limits`` storage (Redis for several processes)."""

    def __init__(self, uri: str) -> None:
        self._limiter = FixedWindowRateLimiter(storage_from_string(uri))

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self._limiter.hit(item, *identifiers)

    def retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = self._limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))


class _MemoryWindows:
    """Fixed windows in this process: a count and an end per identity, dropped once over."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        key, now = item.key_for(*identifiers), time.monotonic()
        with self._lock:
            if now >= self._next_sweep:  # forget identities whose windows ended
                self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
                self._next_sweep = now + 60.0
            end, count = self._windows.get(key, (0.0, 0))
            if now >= end:
                end, count = now + item.get_expiry(), 0
            if count >= item.amount:
                return False
            self._windows[key] = (end, count + 1)
            return True

    def retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        with self._lock:
            end, _ = self._windows.get(item.key_for(*identifiers), (0.0, 0))
        return max(1, math.ceil(end - time.monotonic()))


class RateLimits:
    """The limits of one server process, over the configured counter storage."""

    def __init__(self, settings: Settings) -> None:
        """Read the limits from the settings (None: no limit)."""
        uri = settings.rate_limit_storage
        self._limiter: _Counter = (
            _MemoryWindows() if uri.startswith("memory://") else _SharedWindows(uri)
        )

        def limit(name: str, text: str | None) -> _Limit:
            return _Limit(name, parse(text) if text else None)

        self._messages = (
            limit("messages per customer", settings.rate_limit_customer_messages),
            limit("messages per key", settings.rate_limit_key_messages),
        )
        self._actions = (
            limit("actions per customer", settings.rate_limit_customer_actions),
            limit("actions per key", settings.rate_limit_key_actions),
        )
        self._failures = parse(REPEATED_FAILURES)

    def message(self, principal: Principal, customer_id: str) -> None:
        """Count a message, or refuse it.

        Raises:
            RateLimited: the customer's or the key's message limit is reached.

        """
        self._hit("message", self._messages, (customer_id, principal.limit_key))

    def action(self, principal: Principal, customer_id: str) -> None:
        """Count an action request, or refuse it.

        Raises:
            RateLimited: the customer's or the key's action limit is reached.

        """
        self._hit("action", self._actions, (customer_id, principal.limit_key))

    def _hit(self, kind: str, limits: tuple[_Limit, _Limit], ids: tuple[str, str]) -> None:
        for limit, identity in zip(limits, ids, strict=True):
            if limit.item is None:
                continue
            if not self._limiter.hit(limit.item, kind, limit.name, identity):
                wait = self._limiter.retry_after(limit.item, kind, limit.name, identity)
                raise RateLimited(f"{limit.name} ({limit.item})", wait)

    def auth_failed(self, client: str, reason: str, key_id: str | None) -> None:
        """Log a refused sign-in; say so louder when one client keeps failing."""
        log.info("authentication refused: %s (client %s, key %s)", reason, client, key_id or "-")
        if not self._limiter.hit(self._failures, "auth_failure", client):
            log.warning(
                "repeated authentication failures from %s: more than %s (not locked out)",
                client,
                self._failures,
            )
