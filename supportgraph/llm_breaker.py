"""A circuit breaker for the LLM endpoint: a small state machine over an injected clock.

closed ──(``failures`` failed calls in a row)──► open ──(``cooldown_s`` passed)──► half-open
half-open lets one trial call through: success closes the breaker, failure opens it again.
While open (and while a trial is out) no call is allowed and the no-LLM path answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures and refuses calls for a while after too many."""

    def __init__(
        self,
        *,
        failures: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Open after ``failures`` failures in a row; try again after ``cooldown_s``."""
        if failures < 1 or cooldown_s < 0:
            raise ValueError("failures must be >= 1 and cooldown_s >= 0")
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._trial_out = False
        self.opened = 0  # how often it opened, for logs and tests

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose cool-down is over reads half-open)."""
        with self._lock:
            return self._current()

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, only one trial call at a time."""
        with self._lock:
            state = self._current()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._trial_out:
                self._state, self._trial_out = BreakerState.HALF_OPEN, True
                return True
            return False

    def record_success(self) -> None:
        """A call succeeded: the breaker closes and the count starts again."""
        with self._lock:
            self._state, self._consecutive, self._trial_out = BreakerState.CLOSED, 0, False

    def record_failure(self) -> None:
        """A call failed: a failed trial, or the ``failures``-th in a row, opens the breaker."""
        with self._lock:
            self._consecutive += 1
            trial = self._current() is BreakerState.HALF_OPEN
            if trial or self._consecutive >= self.failures:
                if self._state is not BreakerState.OPEN or trial:
                    self.opened += 1
                self._state, self._opened_at, self._trial_out = (
                    BreakerState.OPEN,
                    self._clock(),
                    False,
                )

    def _current(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return self._state
