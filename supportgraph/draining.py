"""A graceful stop: on SIGTERM new requests get 503 while the ones in flight finish, then exit.

Uvicorn's own stop closes the listening socket at once, so a client learns nothing but a
refused connection, and it stops at the first signal whatever is running. Here the first
SIGTERM only starts draining: the socket stays open, every new request (``/healthz`` too,
so a load balancer looks elsewhere) is answered 503 with ``Retry-After`` and
``Connection: close``, event streams end, and once no request is in flight, or after
``grace_s``, uvicorn's stop runs. A second SIGTERM or a SIGINT stops at once, as before.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

RETRY_AFTER_S = "5"
# Event streams last as long as a page is open; they end while draining, but never hold it.
LONG_LIVED_SUFFIX = "/events"


class Drain:
    """Whether the server is draining, and how many requests are in flight."""

    def __init__(self) -> None:
        """Serving, with nothing in flight."""
        self._idle = threading.Condition()
        self.in_flight = 0
        self.draining = False

    def start(self) -> None:
        """Refuse new requests from now on."""
        with self._idle:
            self.draining = True
            self._idle.notify_all()

    def enter(self) -> None:
        """A request began."""
        with self._idle:
            self.in_flight += 1

    def leave(self) -> None:
        """A request finished."""
        with self._idle:
            self.in_flight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until nothing is in flight (True) or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


class DrainMiddleware:
    """Counts requests in flight; while draining, answers every new one 503."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        """Wrap ``app``."""
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            await _refuse(send)
            return
        if scope["path"].endswith(LONG_LIVED_SUFFIX):
            await self.app(scope, receive, send)
            return
        self.drain.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.leave()


async def _refuse(send: Send) -> None:
    body = json.dumps({"detail": "the server is shutting down; retry shortly"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", RETRY_AFTER_S.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DrainingServer(uvicorn.Server):
    """Uvicorn's server with the first SIGTERM turned into a drain."""

    def __init__(self, config: uvicorn.Config, drain: Drain, grace_s: float) -> None:
        """Serve ``config``; drain through ``drain`` for at most ``grace_s`` seconds."""
        super().__init__(config)
        self.drain = drain
        self.grace_s = grace_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM while serving: drain, then stop. Anything else: uvicorn's stop."""
        if sig == signal.SIGTERM and not self.drain.draining:
            self.drain.start()
            threading.Thread(target=self._stop_when_idle, name="drain", daemon=True).start()
            return
        super().handle_exit(sig, frame)

    def _stop_when_idle(self) -> None:
        started = time.monotonic()
        finished = self.drain.wait_idle(self.grace_s)
        waited = time.monotonic() - started
        if finished:
            log.info("drained in %.2f s; stopping", waited)
        else:
            log.warning(
                "%d requests still in flight after %.0f s; stopping", self.drain.in_flight, waited
            )
        self.should_exit = True
