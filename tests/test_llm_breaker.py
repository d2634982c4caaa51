"""The circuit breaker's states and the guard's retry arithmetic, on a clock of the test's own."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai
import pytest

from supportgraph.llm_breaker import BreakerState, CircuitBreaker
from supportgraph.llm_guard import LlmGuard, LlmUnavailable, retry_after_s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_closed_then_open_after_k_failures_then_half_open_after_the_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # a success in between starts the count again
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # one trial
    assert not breaker.allow()  # and only one
    breaker.record_failure()  # the trial failed: open for another cool-down
    assert breaker.state is BreakerState.OPEN and breaker.opened == 2
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow() and breaker.allow()


class Scripted:
    """A runnable that raises or returns what it is given, in turn, noting its timeouts."""

    def __init__(self, clock: Clock, *outcomes: Any, takes_s: float = 0.0) -> None:
        self.clock, self.outcomes, self.takes_s = clock, list(outcomes), takes_s
        self.timeouts: list[float] = []

    def invoke(self, messages: Any, **kwargs: Any) -> Any:
        self.timeouts.append(kwargs["timeout"])
        self.clock.now += min(self.takes_s, kwargs["timeout"])
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def status_error(code: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(code, headers=headers or {}, request=request)
    return openai.APIStatusError(f"{code}", response=response, body=None)


def guard(clock: Clock, **values: Any) -> LlmGuard:
    limits = {"timeout_s": 2.0, "max_retries": 2, "turn_deadline_s": 5.0, **values}
    breaker = CircuitBreaker(failures=2, cooldown_s=30, clock=clock)
    return LlmGuard(breaker, clock=clock, sleep=clock.sleep, **limits)


def test_retries_are_bounded_and_honour_retry_after() -> None:
    clock = Clock()
    llm = guard(clock)
    runnable = Scripted(clock, status_error(429, {"Retry-After": "1.5"}), status_error(503), "ok")
    assert llm.invoke(runnable, []) == "ok"  # type: ignore[arg-type]
    assert clock.now - 100 == pytest.approx(1.5, abs=0.5)  # 1.5 s asked, then a short backoff
    assert llm.breaker.state is BreakerState.CLOSED

    runnable = Scripted(clock, *[status_error(500)] * 5)
    with pytest.raises(openai.APIStatusError):
        llm.invoke(runnable, [])  # type: ignore[arg-type]
    assert len(runnable.timeouts) == 3  # one try and two retries


def test_a_turns_calls_share_one_deadline_and_attempts_are_cut_to_it() -> None:
    clock = Clock()
    llm = guard(clock, max_retries=5)
    timeout = openai.APITimeoutError(httpx.Request("POST", "http://127.0.0.1/v1"))
    with llm.turn():
        runnable = Scripted(clock, *[timeout] * 6, takes_s=10)
        with pytest.raises((openai.APITimeoutError, LlmUnavailable)):
            llm.invoke(runnable, [])  # type: ignore[arg-type]
        assert clock.now - 100 <= 5.0
        assert runnable.timeouts[0] == 2.0 and runnable.timeouts[-1] < 2.0
        with pytest.raises(LlmUnavailable):  # nothing left for a second call this turn
            llm.invoke(Scripted(clock, "ok"), [])  # type: ignore[arg-type]


def test_errors_that_a_retry_cannot_mend_are_not_retried() -> None:
    clock = Clock()
    for error in (status_error(400), status_error(401), ValueError("Expecting value")):
        llm = guard(clock)
        runnable = Scripted(clock, error, "ok")
        with pytest.raises(type(error)):
            llm.invoke(runnable, [])  # type: ignore[arg-type]
        assert len(runnable.timeouts) == 1


def test_an_open_breaker_sends_nothing() -> None:
    clock = Clock()
    llm = guard(clock, max_retries=0)
    for _ in range(2):
        with pytest.raises(openai.APIStatusError):
            llm.invoke(Scripted(clock, status_error(500)), [])  # type: ignore[arg-type]
    runnable = Scripted(clock, "ok")
    with pytest.raises(LlmUnavailable):
        llm.invoke(runnable, [])  # type: ignore[arg-type]
    assert runnable.timeouts == []


def test_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert retry_after_s(status_error(429, {"Retry-After": "2"})) == 2.0
    assert retry_after_s(status_error(429, {"retry-after-ms": "250"})) == 0.25
    dated = retry_after_s(status_error(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert dated == 0.0  # a date in the past: no wait
    assert retry_after_s(status_error(500)) is None
    assert retry_after_s(ValueError("no response")) is None
