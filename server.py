"""The HTTP API: thin routes over the support service. Run with ``supportgraph serve``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from graph.builder import build_graph
from graph.checkpoint import open_checkpointer
from policies.access import check_reads_metrics, check_reads_reports, check_speaks_for
from supportgraph import live
from supportgraph.action_requests import ActionRequest, ConflictError, handle_action
from supportgraph.agents import api as agents_api
from supportgraph.agents.queue import fill_queue_inputs
from supportgraph.analytics import (
    DEFAULT_PERIOD,
    PERIOD_PATTERN,
    Prices,
    TicketNotFound,
    compute_analytics,
    period_length,
    record_csat,
)
from supportgraph.api_models import (
    ID_PATTERN,
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
    spec_intent,
)
from supportgraph.auth.audit import Actor, record_access
from supportgraph.auth.demo import demo_sign_in
from supportgraph.auth.guard import allowed, authorize_ticket
from supportgraph.auth.http import Authenticator, Caller
from supportgraph.auth.http import install as install_boundary
from supportgraph.auth.principals import Principal
from supportgraph.auth.rate_limits import RateLimits
from supportgraph.db.models import utcnow
from supportgraph.draining import Drain, DrainMiddleware
from supportgraph.escalations import escalate_and_assign
from supportgraph.http_errors import error_responses, invalid, validation_refusal
from supportgraph.idempotency import KeyConflict
from supportgraph.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from supportgraph.observability import RequestContext
from supportgraph.pages import routes as pages
from supportgraph.replies import read_actions_offered
from supportgraph.services import Services
from supportgraph.settings import Settings, get_settings
from supportgraph.support import BusyError, NotFoundError, SupportService
from supportgraph.tickets import ticket_view
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


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    on_ready: Callable[[], object] | None = None,
) -> FastAPI:
    """The FastAPI application; models load and stores open at start-up, not per request.

    ``on_ready()`` is called once start-up is done, before the server listens (a worker waits
    there for the others).
    """
    services = services or Services(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            services.warm_up()
            app.state.support = stack.enter_context(open_support_service(services))
            app.state.demo = demo_sign_in(services)
            if app.state.demo is not None:
                authenticator.accept(app.state.demo.secret)
            app.state.turn_admission = asyncio.Semaphore(admitted_turns(services.settings))
            if on_ready is not None:
                on_ready()
            yield

    settings = services.settings
    docs = settings.openapi_docs
    app = FastAPI(
        title="supportgraph",
        version="0.1.0",
        description="Tier-1 customer support agent: answers, acts within policy, hands off.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.rate_limits = RateLimits(settings)
    authenticator = Authenticator(
        lambda: services.engine, settings.token_secrets, app.state.rate_limits
    )
    install_boundary(app, authenticator, settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_refusal)
    _add_routes(app)
    app.include_router(agents_api.router)
    live.install(app)
    pages.install(app)
    app.state.drain = Drain()
    app.add_middleware(DrainMiddleware, drain=app.state.drain)  # before auth and the routes
    app.add_middleware(RequestContext)  # request ids on every log line, refusals' too
    return app


# Messages admitted per turn slot: the next turns wait in their threads, so a freed slot is
# taken at once. With one per slot each freed slot waited for the event loop to admit the next
# message: at 40 a second 851 and 942 of 1,200 were answered, against 1,040-1,100 otherwise.
ADMITTED_PER_TURN_SLOT = 2


def admitted_turns(settings: Settings) -> int:
    """Messages in turns at once: two a slot, and with an LLM those that wait on it."""
    waiting = settings.llm_waiting_turns if settings.llm_enabled else 0
    return ADMITTED_PER_TURN_SLOT * settings.max_concurrent_turns + waiting


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
    waiting = time.perf_counter()
    try:
        async with asyncio.timeout(support.turn_wait_left(received)):
            await admission.acquire()
    except TimeoutError as exc:
        support.metrics.admission(time.perf_counter() - waiting, admitted=False)
        raise support.busy() from exc
    support.metrics.admission(time.perf_counter() - waiting, admitted=True)
    try:
        yield
    finally:
        admission.release()


async def get_support(request: Request) -> SupportService:
    """The app's support service (async: read on the event loop, not in a worker thread)."""
    support: SupportService = request.app.state.support
    return support


Support = Annotated[SupportService, Depends(get_support)]
TicketId = Annotated[str, Path(pattern=ID_PATTERN)]


def _add_routes(app: FastAPI) -> None:
    @app.get("/healthz", responses=error_responses(503, signed_in=False))
    def healthz() -> dict[str, str]:
        """Alive; 503 while the server drains before it stops."""
        return {"status": "ok"}

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {METRICS_CONTENT_TYPE: {}}}, **error_responses()},
    )
    def get_metrics(support: Support, caller: Caller) -> Response:
        """The process's metrics in Prometheus' text format (scope admin)."""
        allowed(check_reads_metrics(caller), caller)
        return Response(support.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    @app.post(
        "/v1/support/message",
        response_model=MessageResponse,
        responses=error_responses(400, 404, 429, 503),
    )
    async def post_message(
        body: MessageRequest, request: Request, support: Support, caller: Caller
    ) -> MessageResponse:
        received = time.perf_counter()
        ticket_id = None if body.ticket_id in (None, "new") else body.ticket_id
        limits: RateLimits = request.app.state.rate_limits
        actor = allowed(check_speaks_for(caller, body.customer_id), caller)
        limits.message(caller, actor.customer)
        try:
            async with _turn_admission(request.app, support, received):
                result = await run_in_threadpool(
                    support.handle_message,
                    ticket_id=ticket_id,
                    customer_id=actor.customer,
                    message=body.message,
                    channel=body.channel,
                    received_at=received,
                    actor=actor,
                    metadata=body.metadata.stored() if body.metadata else None,
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
        responses=error_responses(400, 404, 409, 429),
    )
    def post_action(
        body: ActionRequestBody,
        request: Request,
        support: Support,
        caller: Caller,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> ActionResponse:
        limits: RateLimits = request.app.state.rate_limits
        try:
            actor = _changing_ticket(support, caller, body)
            limits.action(caller, actor.customer)
            response = handle_action(
                support,
                ActionRequest(
                    ticket_id=body.ticket_id,
                    customer_id=actor.customer,
                    action=body.action_name,
                    arguments=body.arguments,
                    confirmed_by_customer=body.confirmed_by_customer,
                    action_id=body.action_id,
                    idempotency_key=idempotency_key,
                    reason=body.reason,
                ),
            )
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        except ActionError as exc:
            field, value = (
                ("action_type", body.action_name)
                if exc.field == "action"
                else (exc.field, body.parameters)
            )
            raise invalid(("body", field), str(exc), value) from exc
        except (ConflictError, KeyConflict) as exc:
            raise HTTPException(409, str(exc)) from exc
        record_access(support.services.engine, actor, body.ticket_id, f"action:{body.action_name}")
        return response

    @app.post(
        "/v1/support/escalate",
        response_model=EscalateResponse,
        responses=error_responses(400, 404),
    )
    def post_escalate(body: EscalateRequest, support: Support, caller: Caller) -> EscalateResponse:
        try:
            actor = _changing_ticket(support, caller, body)
            made = escalate_and_assign(
                support,
                ticket_id=body.ticket_id,
                customer_id=actor.customer,
                reason=body.reason,
                priority=body.priority_level,
                signals=body.signals,
                summary=body.conversation_summary,
            )
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        record_access(support.services.engine, actor, body.ticket_id, "escalate")
        wait = made.estimated_wait_s
        return EscalateResponse(
            ticket_id=body.ticket_id,
            escalation_id=made.escalation_id,
            escalated=True,
            assigned_agent=made.assigned_agent,
            queue_position=made.queue_position,
            estimated_wait_minutes=round(wait / 60, 1) if wait is not None else None,
            estimated_wait_basis=made.wait_basis,
            handoff_context_included=bool(made.packet),
            handoff=made.packet,
        )

    @app.get("/v1/support/analytics", response_model=AnalyticsResponse, responses=error_responses())
    def get_analytics(
        support: Support,
        caller: Caller,
        period: Annotated[
            str | None,
            Query(
                pattern=PERIOD_PATTERN,
                description="the last 24h, 7d, 4w ... up to now; or give start and end",
                examples=["7d"],
            ),
        ] = None,
        start: Annotated[datetime | None, Query(description="inclusive, UTC")] = None,
        end: Annotated[datetime | None, Query(description="exclusive, UTC")] = None,
    ) -> AnalyticsResponse:
        allowed(check_reads_reports(caller), caller)
        now = utcnow()
        start_given = start is not None or end is not None
        if period is not None and (start or end):
            raise invalid(("query", "period"), "give a period or start/end, not both", period)
        try:
            length = period_length(period or DEFAULT_PERIOD)
        except ValueError as exc:
            raise invalid(("query", "period"), str(exc), period) from exc
        end = _aware_utc(end) if end else now + timedelta(seconds=1)
        start = _aware_utc(start) if start else end - length
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
        label = period or ("custom" if start_given else DEFAULT_PERIOD)
        return AnalyticsResponse.model_validate(
            {**figures, "period": label, "auto_resolved_pct": figures["deflection_rate"]}
        )

    @app.post("/v1/support/csat", response_model=CsatResponse, responses=error_responses(400, 404))
    def post_csat(body: CsatRequest, support: Support, caller: Caller) -> CsatResponse:
        try:
            actor = _changing_ticket(support, caller, body)
            previous = record_csat(
                support.services.engine,
                ticket_id=body.ticket_id,
                customer_id=actor.customer,
                score=body.score,
            )
        except (TicketNotFound, NotFoundError) as exc:
            raise HTTPException(404, str(exc)) from exc
        record_access(support.services.engine, actor, body.ticket_id, "csat")
        return CsatResponse(ticket_id=body.ticket_id, score=body.score, previous_score=previous)

    @app.get("/v1/support/tickets/{ticket_id}", responses=error_responses(404))
    def get_ticket(ticket_id: TicketId, support: Support, caller: Caller) -> dict[str, Any]:
        engine = support.services.engine
        try:
            actor = authorize_ticket(support.services, caller, ticket_id)
            view = ticket_view(engine, ticket_id, with_access_log=caller.is_staff)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        record_access(engine, actor, ticket_id, "read")
        return view


def _changing_ticket(
    support: SupportService,
    caller: Principal,
    body: ActionRequestBody | EscalateRequest | CsatRequest,
) -> Actor:
    """The customer-side caller, bound to the customer of the ticket the body names."""
    return authorize_ticket(
        support.services, caller, body.ticket_id, claimed_customer=body.customer_id, change=True
    )


def _aware_utc(moment: datetime) -> datetime:
    """Read a naive moment as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _message_response(result: Any) -> MessageResponse:
    state = result.state
    intents = state.get("intents") or []
    gate = state.get("gate") or {}
    offers = [
        ActionOut(
            action_id=a["action_id"],
            action=a["action"],
            arguments=a["arguments"],
            arguments_hash=a["arguments_hash"],
            reason=a["reason"],
        )
        for a in result.actions_available
    ]
    return MessageResponse(
        ticket_id=result.ticket_id,
        message_id=result.message_id,
        customer_message_id=result.customer_message_id,
        turn=result.turn,
        response=state.get("response", ""),
        intent=spec_intent([view["intent"] for view in intents]),
        confidence=intents[0]["confidence"] if intents else 0.0,
        intents=[IntentOut.model_validate(view) for view in intents],
        actions_available=list(
            dict.fromkeys([*(offer.action for offer in offers), *read_actions_offered(state)])
        ),
        actions=offers,
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
