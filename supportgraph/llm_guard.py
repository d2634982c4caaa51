"""Every LLM call of a turn goes through one guard: a deadline, bounded retries, a breaker.

- Deadline. A turn's LLM calls together get ``llm_turn_deadline_s`` (``turn()`` starts the
  clock; a call outside a turn gets the whole budget). Each attempt's timeout is the smaller
  of ``llm_timeout_s`` and what is left, and no attempt starts once the budget is spent.
- Retries. Connection errors, timeouts, 408/409/429 and 5xx are retried up to
  ``llm_max_retries`` times, with exponential backoff and jitter, or after the server's
  ``Retry-After`` when it gives one; a wait that would end past the deadline is not waited:
  the call fails at once. The HTTP client itself is built with no retries of its own.
- Breaker. A call that fails after its retries counts one failure (``llm_breaker.py``); while
  the breaker is open no request is sent and ``LlmUnavailable`` is raised at once.

Whoever calls catches the error and answers without the LLM.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from typing import Any

from langchain_core.runnables import Runnable

from supportgraph.llm_breaker import CircuitBreaker

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 4.0
RETRY_STATUSES = frozenset({408, 409, 429})
# An attempt is not started with less than this left: it could not get an answer back.
MIN_ATTEMPT_S = 0.05

_deadline: ContextVar[float | None] = ContextVar("llm_turn_deadline", default=None)
# What a turn does while it only waits (an LLM request in flight, a backoff): the service lets
# another turn have its slot.
_while_waiting: ContextVar[Callable[[], AbstractContextManager[None]] | None] = ContextVar(
    "llm_while_waiting", default=None
)


class LlmUnavailable(RuntimeError):
    """No LLM answer this time: the breaker is open or the turn's LLM budget is spent."""


def retry_after_s(exc: BaseException) -> float | None:
    """The wait a 429/503 asked for (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def is_retryable(exc: BaseException) -> bool:
    """Worth another try: the connection failed or timed out, or the server said so."""
    import openai

    if isinstance(exc, (openai.APIConnectionError, TimeoutError, ConnectionError)):
        return True  # openai.APITimeoutError is an APIConnectionError
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
    return False


class LlmGuard:
    """Runs chat-model calls inside the turn's deadline, with retries and a breaker."""

    def __init__(
        self,
        breaker: CircuitBreaker,
        *,
        timeout_s: float,
        max_retries: int,
        turn_deadline_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Guard calls with this breaker and these limits."""
        self.breaker = breaker
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.turn_deadline_s = turn_deadline_s
        self._clock = clock
        self._sleep = sleep
        self._retries_lock = threading.Lock()
        self.retries = 0  # attempts made again after a failure, since the process started

    @contextmanager
    def turn(
        self, while_waiting: Callable[[], AbstractContextManager[None]] | None = None
    ) -> Iterator[None]:
        """The LLM calls made inside share one deadline (a turn's).

        ``while_waiting()`` is entered around each wait on the endpoint (a request in flight,
        a backoff): the turn gives back what it holds that a waiting turn does not need.
        """
        token = _deadline.set(self._clock() + self.turn_deadline_s)
        waiting = _while_waiting.set(while_waiting)
        try:
            yield
        finally:
            _while_waiting.reset(waiting)
            _deadline.reset(token)

    @staticmethod
    def _waiting() -> AbstractContextManager[None]:
        given_back = _while_waiting.get()
        return nullcontext() if given_back is None else given_back()

    def left_s(self) -> float | None:
        """Seconds left of the turn's LLM budget, or None outside a turn."""
        deadline = _deadline.get()
        return None if deadline is None else deadline - self._clock()

    def invoke(self, runnable: Runnable[Any, Any], messages: Any) -> Any:
        """``runnable.invoke(messages)`` within the deadline, retried when worth it.

        Raises:
            LlmUnavailable: the breaker is open, or no time is left for an attempt.
            Exception: the last attempt's error (after it was counted by the breaker).

        """
        deadline = _deadline.get()
        if deadline is None:
            deadline = self._clock() + self.turn_deadline_s
        if not self.breaker.allow():
            raise LlmUnavailable("the LLM circuit breaker is open")
        attempt = 0
        try:
            while True:
                left = deadline - self._clock()
                if left < MIN_ATTEMPT_S:
                    raise LlmUnavailable("the turn's LLM time budget is spent")
                try:
                    with self._waiting():
                        result = runnable.invoke(messages, timeout=min(self.timeout_s, left))
                except Exception as exc:
                    wait = self._retry_wait(exc, attempt, deadline)
                    if wait is None:
                        raise
                    log.info("LLM call failed (%s); retry %d in %.2fs", exc, attempt + 1, wait)
                    with self._retries_lock:
                        self.retries += 1
                    with self._waiting():
                        self._sleep(wait)
                    attempt += 1
                    continue
                self.breaker.record_success()
                return result
        except Exception:
            self.breaker.record_failure()
            raise

    def _retry_wait(self, exc: BaseException, attempt: int, deadline: float) -> float | None:
        """How long to wait before the next attempt, or None to give up now."""
        if attempt >= self.max_retries or not is_retryable(exc):
            return None
        asked = retry_after_s(exc)
        backoff = min(BACKOFF_BASE_S * 2**attempt, BACKOFF_MAX_S) * (1 - 0.25 * random.random())
        wait = asked if asked is not None else backoff
        if self._clock() + wait + MIN_ATTEMPT_S >= deadline:
            log.info("not retrying the LLM: a %.2fs wait would pass the turn's deadline", wait)
            return None
        return wait
