"""Live updates for the pages: server-sent events of a conversation and of the queue.

A stream sends the whole view when it changes, never on a timer. A change made through this
process's API wakes the streams at once (``ChangeFeed``); one made by another process (a
second worker, ``supportgraph learn``) is seen at the next check, every ``RECHECK_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from supportgraph.agents.api import as_agent, conversation, queue_for
from supportgraph.api_models import ID_PATTERN
from supportgraph.auth.audit import Actor, record_access
from supportgraph.auth.guard import authorize_ticket
from supportgraph.auth.http import Caller
from supportgraph.draining import Drain
from supportgraph.http_errors import error_responses
from supportgraph.support import NotFoundError, SupportService

RECHECK_S = 2.0  # how stale another process's change may be on a page
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ChangeFeed:
    """A version number that moves when this process's API changed something."""

    def __init__(self) -> None:
        """Start at version 0; the event loop is bound on first wait."""
        self.version = 0
        self._changed: asyncio.Event | None = None

    def changed(self) -> None:
        """Wake every stream (called on the event loop after a write request)."""
        self.version += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait(self, seen: int, timeout: float) -> None:
        """Return when the version moved past ``seen``, or after ``timeout`` seconds."""
        if self.version != seen:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)


class ChangeNotifier:
    """Middleware: after a write request under /v1 finishes, the feed moves."""

    def __init__(self, app: ASGIApp, feed: ChangeFeed) -> None:
        """Wrap ``app``."""
        self.app = app
        self.feed = feed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        try:
            await self.app(scope, receive, send)
        finally:
            if (
                scope["type"] == "http"
                and scope["method"] in WRITE_METHODS
                and scope["path"].startswith("/v1/")
            ):
                self.feed.changed()


def _support(request: Request) -> SupportService:
    support: SupportService = request.app.state.support
    return support


Support = Annotated[SupportService, Depends(_support)]
router = APIRouter(tags=["live"])


async def _changes(
    request: Request, read: Callable[[], Awaitable[BaseModel | list[Any]]], event: str
) -> AsyncIterator[ServerSentEvent]:
    """The view each time it differs from the one sent last, until the client goes."""
    feed: ChangeFeed = request.app.state.change_feed
    drain: Drain = request.app.state.drain
    sent = ""
    while not await request.is_disconnected() and not drain.draining:
        seen = feed.version
        view = await read()
        payload = (
            view.model_dump(mode="json")
            if isinstance(view, BaseModel)
            else [item.model_dump(mode="json") for item in view]
        )
        digest = hashlib.blake2b(repr(payload).encode(), digest_size=16).hexdigest()
        if digest != sent:
            sent = digest
            yield ServerSentEvent(data=payload, event=event, id=digest)
        await feed.wait(seen, RECHECK_S)


TicketId = Annotated[str, Path(pattern=ID_PATTERN)]


async def _ticket_reader(ticket_id: TicketId, support: Support, caller: Caller) -> Actor:
    """The caller, allowed to read the ticket (decided before the stream starts)."""
    try:
        actor = await run_in_threadpool(authorize_ticket, support.services, caller, ticket_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    await run_in_threadpool(record_access, support.services.engine, actor, ticket_id, "read:events")
    return actor


async def _queue_reader(
    support: Support,
    caller: Caller,
    agent_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> str | None:
    """The agent whose queue is streamed (None: the whole queue), checked before it starts."""
    as_agent(caller, agent_id)
    if agent_id is not None:
        try:
            await run_in_threadpool(queue_for, support.services, agent_id)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
    return agent_id


@router.get(
    "/v1/support/tickets/{ticket_id}/events",
    response_class=EventSourceResponse,
    responses=error_responses(404),
)
async def ticket_events(
    ticket_id: TicketId,
    request: Request,
    support: Support,
    actor: Annotated[Actor, Depends(_ticket_reader)],
) -> AsyncIterator[ServerSentEvent]:
    """The conversation (messages, proposals, queue position) each time it changes."""
    services = support.services

    async def read() -> BaseModel:
        return await run_in_threadpool(conversation, services, ticket_id)

    async for item in _changes(request, read, "conversation"):
        yield item


@router.get(
    "/v1/agents/queue/events",
    response_class=EventSourceResponse,
    responses=error_responses(404),
)
async def queue_events(
    request: Request,
    support: Support,
    agent_id: Annotated[str | None, Depends(_queue_reader)],
) -> AsyncIterator[ServerSentEvent]:
    """The queue (as ``GET /v1/agents/queue``) each time it changes."""
    services = support.services

    async def read() -> list[Any]:
        return await run_in_threadpool(queue_for, services, agent_id)

    async for item in _changes(request, read, "queue"):
        yield item


def install(app: FastAPI) -> None:
    """Give the app its change feed, the middleware that moves it, and the streams."""
    app.state.change_feed = ChangeFeed()
    app.add_middleware(ChangeNotifier, feed=app.state.change_feed)
    app.include_router(router)
