"""The HTTP API: thin routes over the support service. Run with ``supportgraph serve``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from graph.builder import build_graph
from graph.checkpoint import open_checkpointer
from supportgraph.action_requests import ActionRequest, ConflictError, handle_action
from supportgraph.agents import api as agents_api
from supportgraph.agents.queue import fill_queue_inputs
from supportgraph.analytics import Prices, TicketNotFound, compute_analytics, record_csat
from supportgraph.api_models import (
    ActionOut,
    ActionRequestBody,
    ActionResponse,
    AnalyticsResponse,
    CsatRequest,
    CsatResponse,
    EscalateRequest,
    EscalateResponse,
    IntentOut,
    MessageRequest,
    MessageResponse,
    SourceOut,
)
from supportgraph.db import models
from supportgraph.db.models import utcnow
from supportgraph.escalations import escalate_ticket
from supportgraph.http_errors import error_responses, invalid, validation_refusal
from supportgraph.idempotency import KeyConflict
from supportgraph.services import Services
from supportgraph.settings import Settings, get_settings
from supportgraph.support import BusyError, NotFoundError, SupportService
from tools.actions import ActionError

# Seconds a client refused for load should wait before sending the message again.
RETRY_AFTER_S = "2"


@contextmanager
def open_support_service(services: Services) -> Iterator[SupportService]:
    """A support service whose graph is compiled with the configured checkpointer.

    Actions a crash left pending are settled first, so nothing is served over them, and
    tickets an older version queued get the inputs the queue now ranks by.
    """
    services.reconcile_actions()
    fill_queue_inputs(services)
    with open_checkpointer(services.settings.resolved_checkpoint_url) as checkpointer:
        yield SupportService(services, build_graph().compile(checkpointer=checkpointer))


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The FastAPI application; models load and stores open at start-up, not per request."""
    services = services or Services(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            services.warm_up()
            app.state.support = stack.enter_context(open_support_service(services))
            app.state.turn_admission = asyncio.Semaphore(
                ADMITTED_PER_TURN_SLOT * services.settings.max_concurrent_turns
            )
            yield

    app = FastAPI(
        title="supportgraph",
        version="0.1.0",
        description="Tier-1 customer support agent: answers, acts within policy, hands off.",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, validation_refusal)
    _add_routes(app)
    app.include_router(agents_api.router)
    return app


# Messages admitted per turn slot: the next turns wait in their threads, so a freed slot is
# taken at once. With one per slot each freed slot waited for the event loop to admit the next
# message: at 40 a second 851 and 942 of 1,200 were answered, against 1,040-1,100 otherwise.
ADMITTED_PER_TURN_SLOT = 2


@asynccontextmanager
async def _turn_admission(
    app: FastAPI, support: SupportService, received: float
) -> AsyncIterator[None]:
    """Admission to the turn slots, awaited on the event loop from the message's arrival.

    Messages past capacity wait here holding no worker thread, so the other routes (the
    human agents' among them) keep the thread pool; waiting in threads, forty of them filled
    it, and a finished turn's response validation queued behind them.
    """
    admission: asyncio.Semaphore = app.state.turn_admission
    try:
        async with asyncio.timeout(support.turn_wait_left(received)):
            await admission.acquire()
    except TimeoutError as exc:
        raise support.busy() from exc
    try:
        yield
    finally:
        admission.release()


async def get_support(request: Request) -> SupportService:
    """The app's support service (async: read on the event loop, not in a worker thread)."""
    support: SupportService = request.app.state.support
    return support


Support = Annotated[SupportService, Depends(get_support)]


def _add_routes(app: FastAPI) -> None:
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/v1/support/message",
        response_model=MessageResponse,
        responses=error_responses(400, 404, 503),
    )
    async def post_message(
        body: MessageRequest, request: Request, support: Support
    ) -> MessageResponse:
        received = time.perf_counter()
        ticket_id = None if body.ticket_id in (None, "new") else body.ticket_id
        try:
            async with _turn_admission(request.app, support, received):
                result = await run_in_threadpool(
                    support.handle_message,
                    ticket_id=ticket_id,
                    customer_id=body.customer_id,
                    message=body.message,
                    channel=body.channel,
                    received_at=received,
                )
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        except BusyError as exc:
            raise HTTPException(
                503, f"busy, retry: {exc}", headers={"Retry-After": RETRY_AFTER_S}
            ) from exc
        return _message_response(result)

    @app.post(
        "/v1/support/action",
        response_model=ActionResponse,
        responses=error_responses(400, 404, 409),
    )
    def post_action(
        body: ActionRequestBody,
        support: Support,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> ActionResponse:
        request = ActionRequest(
            ticket_id=body.ticket_id,
            customer_id=body.customer_id,
            action=body.action,
            arguments=body.parameters,
            confirmed_by_customer=body.confirmed_by_customer,
            action_id=body.action_id,
            idempotency_key=idempotency_key,
        )
        try:
            return handle_action(support, request)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ActionError as exc:
            raise invalid(("body", exc.field), str(exc), getattr(body, exc.field)) from exc
        except (ConflictError, KeyConflict) as exc:
            raise HTTPException(409, str(exc)) from exc

    @app.post(
        "/v1/support/escalate",
        response_model=EscalateResponse,
        responses=error_responses(400, 404),
    )
    def post_escalate(body: EscalateRequest, support: Support) -> EscalateResponse:
        try:
            packet = escalate_ticket(
                support, ticket_id=body.ticket_id, customer_id=body.customer_id, reason=body.reason
            )
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        return EscalateResponse(ticket_id=body.ticket_id, escalated=True, handoff=packet)

    @app.get("/v1/support/analytics", response_model=AnalyticsResponse)
    def get_analytics(
        support: Support,
        start: Annotated[datetime | None, Query(description="inclusive, UTC")] = None,
        end: Annotated[datetime | None, Query(description="exclusive, UTC")] = None,
    ) -> AnalyticsResponse:
        now = utcnow()
        end = _aware_utc(end) if end else now + timedelta(seconds=1)
        start = _aware_utc(start) if start else end - timedelta(days=30)
        if start >= end:
            raise invalid(("query", "start"), "start must be before end", start.isoformat())
        settings = support.services.settings
        figures = compute_analytics(
            support.services.engine,
            start=start,
            end=end,
            now=now,
            prices=Prices.from_settings(settings),
            verified_days=settings.verified_resolution_days,
        )
        return AnalyticsResponse.model_validate(figures)

    @app.post("/v1/support/csat", response_model=CsatResponse, responses=error_responses(400, 404))
    def post_csat(body: CsatRequest, support: Support) -> CsatResponse:
        try:
            previous = record_csat(
                support.services.engine,
                ticket_id=body.ticket_id,
                customer_id=body.customer_id,
                score=body.score,
            )
        except TicketNotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        return CsatResponse(ticket_id=body.ticket_id, score=body.score, previous_score=previous)

    @app.get("/v1/support/tickets/{ticket_id}", responses=error_responses(404))
    def get_ticket(ticket_id: str, support: Support) -> dict[str, Any]:
        return _ticket_view(support, ticket_id)


def _aware_utc(moment: datetime) -> datetime:
    """Read a naive moment as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _message_response(result: Any) -> MessageResponse:
    state = result.state
    intents = state.get("intents") or []
    gate = state.get("gate") or {}
    return MessageResponse(
        ticket_id=result.ticket_id,
        turn=result.turn,
        response=state.get("response", ""),
        intent=intents[0]["intent"] if intents else "unknown",
        confidence=intents[0]["confidence"] if intents else 0.0,
        intents=[IntentOut.model_validate(view) for view in intents],
        actions_available=[
            ActionOut(
                action_id=a["action_id"],
                action=a["action"],
                arguments=a["arguments"],
                arguments_hash=a["arguments_hash"],
                reason=a["reason"],
            )
            for a in result.actions_available
        ],
        escalated=bool(state.get("escalated")),
        escalation_reason=gate.get("reason") if state.get("escalated") else None,
        sources=[SourceOut.model_validate(source) for source in _cited_sources(state)],
        response_latency_ms=round(result.latency_ms, 3),
    )


def _cited_sources(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Articles retrieved for the turn, and the orders the answer actually used."""
    cited = {source_id for part in state.get("answer", []) for source_id in part["source_ids"]}
    return [
        source
        for source in state.get("sources", [])
        if source["kind"] != "order" or source["id"] in cited
    ]


def _ticket_view(support: SupportService, ticket_id: str) -> dict[str, Any]:
    with Session(support.services.engine) as session:
        ticket = session.get(models.SupportTicket, ticket_id)
        if ticket is None:
            raise HTTPException(404, f"ticket {ticket_id} not found")

        def rows(table: Any) -> list[dict[str, Any]]:
            found = session.exec(
                select(table).where(table.ticket_id == ticket_id).order_by(col(table.created_at))
            ).all()
            return [row.model_dump(mode="json") for row in found]

        return {
            **ticket.model_dump(mode="json"),
            "messages": rows(models.CustomerMessage),
            "classifications": rows(models.IntentClassification),
            "retrievals": rows(models.RetrievalContext),
            "escalation_decisions": rows(models.EscalationDecision),
            "actions": rows(models.ActionExecution),
            "feedback": rows(models.ResolutionFeedback),
        }
