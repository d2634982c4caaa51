"""Personal data masked in what leaves the process to be looked at: LangSmith traces and logs.

Card numbers, emails, street addresses and phone numbers are replaced by placeholders such
as ``[card]`` with the knowledge base's redaction (:func:`~supportgraph.agents.redaction.redact`),
except that order ids stay: they name an order, not a person, and debugging needs them.
Customers' names are not masked: a trace or a log line does not know whose they are.
Credentials (bearer tokens, API keys, signed tokens) are masked as well.

Logs are plain text or one JSON object per line (:class:`JsonFormatter`), each line with the
request id and the ticket id of the request it was written for (:class:`RequestContext`).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import langsmith
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.langchain import LangChainTracer
from langsmith import utils as ls_utils
from langsmith.anonymizer import create_anonymizer
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

from supportgraph.agents.redaction import redact

# LangSmith's anonymizer leaves alone strings nested deeper than this. A run's inputs and
# outputs are a few levels deep; the limit only has to be out of their reach.
ANONYMIZER_MAX_DEPTH = 100
# uvicorn's records are made on these loggers, whose own handlers do not propagate to root.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

# Every pattern masked needs a digit, an "@" or a credential's prefix: most strings of a trace
# can be passed over.
_MAYBE_PII = re.compile(r"[\d@]|bearer|Basic|sgk_|eyJ|sk-", re.IGNORECASE)
# Credentials, masked before personal data so that no digits of one are left to other patterns.
_SECRETS = (
    # After "Bearer" or "Basic", a word that looks like a credential (a digit, or 16 long), so
    # that "the basic plan" stays as written.
    (
        re.compile(r"\b((?i:bearer)|Basic)(\s+)(?=[\w.~+/=-]*\d|[\w.~+/=-]{16})[\w.~+/=-]+"),
        r"\1\2[secret]",
    ),
    (re.compile(r"\bsgk_[A-Za-z0-9_-]+"), "[api-key]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[token]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "[api-key]"),
)

_client: langsmith.Client | None = None
_client_lock = threading.Lock()


def mask_pii(text: str) -> str:
    """The text with card numbers, emails, street addresses and phone numbers masked.

    Args:
        text: A trace value or a log message.

    Returns:
        The text with ``[card]``, ``[email]``, ``[address]`` or ``[phone]`` where they were,
        and ``[secret]``, ``[api-key]`` or ``[token]`` for credentials; order ids such as
        ``ORD-789`` are kept.

    """
    if not _MAYBE_PII.search(text):
        return text
    for pattern, placeholder in _SECRETS:
        text = pattern.sub(placeholder, text)
    return redact(text, keep_order_ids=True)


# --- traces ---------------------------------------------------------------------------------


def _mask_node(value: str, path: list[str | int]) -> str:
    return mask_pii(value)


def trace_anonymizer() -> Callable[[Any], Any]:
    """LangSmith's anonymizer applying :func:`mask_pii` to every string of a run, at any depth."""
    return create_anonymizer(_mask_node, max_depth=ANONYMIZER_MAX_DEPTH)


def masked_client() -> langsmith.Client:
    """The process's one LangSmith client: it masks every string of a run before upload.

    Made on first use from the environment (``LANGSMITH_API_KEY``, ``LANGSMITH_ENDPOINT``,
    ...), and made LangSmith's default client too, so that a run started outside a turn's
    callbacks (another thread, an eval) is masked as well. The anonymizer covers inputs,
    outputs, errors and metadata.
    """
    global _client
    with _client_lock:
        if _client is None:
            _client = langsmith.Client(anonymizer=trace_anonymizer())
            langsmith.configure(client=_client)
        return _client


def tracing_callbacks() -> list[BaseCallbackHandler]:
    """The callbacks that trace a graph run through :func:`masked_client`, if tracing is on.

    Tracing is on as LangSmith decides (``LANGSMITH_TRACING`` or ``LANGCHAIN_TRACING_V2``,
    or a ``langsmith.tracing_context``). LangChain adds its own tracer, with an unmasked
    client, only to a run whose callbacks hold none, so this one replaces it rather than
    adding a second. Off, the list is empty and no client is made.
    """
    if not ls_utils.tracing_is_enabled():
        return []
    return [LangChainTracer(client=masked_client())]


# --- logs -----------------------------------------------------------------------------------


class PiiFilter(logging.Filter):
    """Masks personal data in a record's final message, its exception and its stack.

    The record is changed in place (a Python 3.11 filter cannot replace it), so the handlers
    after this one see it masked too. Arguments are masked one by one while that masks the
    whole message, so that formatters reading ``args`` (uvicorn's access log) still work;
    otherwise the message is replaced by its masked text.
    """

    _exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record; never drops it."""
        _mask_message(record)
        if record.exc_info:
            # Formatters print exc_text when set; without exc_info none can render it again.
            record.exc_text = record.exc_text or self._exceptions.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        return True


def _mask_message(record: logging.LogRecord) -> None:
    message = record.getMessage()
    masked = mask_pii(message)
    if masked == message:
        return
    if isinstance(record.msg, str) and record.args:
        record.msg, record.args = mask_pii(record.msg), _masked_args(record.args)
        try:
            rendered = record.getMessage()
        except (TypeError, ValueError, KeyError):
            rendered = message
        if mask_pii(rendered) == rendered:
            return
    record.msg, record.args = masked, ()


def _masked_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(_masked_arg(value) for value in args)
    if isinstance(args, Mapping):
        return {key: _masked_arg(value) for key, value in args.items()}
    return args


def _masked_arg(value: Any) -> Any:
    if isinstance(value, str):
        return mask_pii(value)
    if value is None or isinstance(value, int | float):
        return value  # keeps %d and %.2f working
    text = str(value)
    masked = mask_pii(text)
    return value if masked == text else masked


PII_FILTER = PiiFilter()


LogFormat = Literal["json", "plain"]


def configure_logging(level: int = logging.INFO, log_format: LogFormat = "plain") -> None:
    """Log to stderr at ``level``, as ``logging.basicConfig``, with personal data masked.

    The filter goes on every handler of the root logger, where propagating records end, and
    on uvicorn's loggers, whose handlers do not propagate: ``uvicorn.run`` replaces those
    handlers with its own log config but keeps the loggers' filters. Calling it again adds
    nothing. Worker processes (``uvicorn.run(..., workers=N)``) configure their logging from
    ``log_config`` only: pass :func:`uvicorn_log_config` there.

    Args:
        level: The root logger's level.
        log_format: ``json`` writes one :class:`JsonFormatter` object per line.

    """
    logging.basicConfig(level=level)
    logging.getLogger().setLevel(level)  # basicConfig leaves a configured root as it is
    for handler in logging.getLogger().handlers:
        handler.addFilter(PII_FILTER)
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).addFilter(PII_FILTER)
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(PII_FILTER)


def uvicorn_log_config(
    level: int = logging.INFO, log_format: LogFormat = "plain"
) -> dict[str, Any]:
    """The log config uvicorn uses by default, with personal data masked and a root handler.

    In ``json`` every line is a :class:`JsonFormatter` object, and uvicorn's access lines
    are left out: :class:`RequestContext` writes one line per request, with its request id.

    Args:
        level: The root logger's level.
        log_format: ``json`` or ``plain``.

    Returns:
        A ``logging.config.dictConfig`` dictionary for ``uvicorn.run(log_config=...)``.

    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"pii": {"()": PiiFilter}}
    for handler in config["handlers"].values():
        handler["filters"] = ["pii"]
    config["root"] = {"handlers": ["default"], "level": logging.getLevelName(level)}
    if log_format == "json":
        config["formatters"] = {name: {"()": JsonFormatter} for name in config["formatters"]}
        config["loggers"]["uvicorn.access"]["level"] = "WARNING"
    return config


# --- request context and JSON lines ---------------------------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
# A request id a client sends is kept when it is this plain; anything else is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_http_log = logging.getLogger("supportgraph.http")


@dataclass
class RequestLog:
    """What the log lines written for one request name: its id, and its ticket once known.

    One object per request, held by a context variable: a worker thread the request runs in
    gets a copy of the variable but the same object, so a ticket bound there (a new ticket's
    id is known only once the service made it) reaches the request's later lines too.
    """

    request_id: str
    ticket_id: str | None = None


_request: ContextVar[RequestLog | None] = ContextVar("supportgraph_request", default=None)
_ticket: ContextVar[str | None] = ContextVar("supportgraph_ticket", default=None)


def bind_ticket(ticket_id: str) -> None:
    """Name this ticket on the log lines written from now on for the current request.

    Outside a request (a command, an eval) the lines name the ticket last bound in the
    current context.
    """
    current = _request.get()
    if current is not None:
        current.ticket_id = ticket_id
    else:
        _ticket.set(ticket_id)


def log_context() -> tuple[str | None, str | None]:
    """The current request id and ticket id (None where unknown)."""
    current = _request.get()
    if current is None:
        return None, _ticket.get()
    return current.request_id, current.ticket_id


class RequestContext:
    """Gives each HTTP request an id, echoes it in ``X-Request-ID``, and logs the request.

    The id is the client's ``X-Request-ID`` when it is a plain token (letters, digits and
    ``._:-``, at most 128), else a new one. The request's line names the method, the path
    (no query string), the status and the time taken.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = presented if _REQUEST_ID.fullmatch(presented) else uuid.uuid4().hex
        token = _request.set(RequestLog(request_id))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            took = round((time.perf_counter() - started) * 1000, 1)
            method, path = scope["method"], scope["path"]
            _http_log.info(
                "%s %s %d in %.1f ms",
                method,
                path,
                status,
                took,
                extra={"method": method, "path": path, "status": status, "duration_ms": took},
            )
            _request.reset(token)


# Attributes every LogRecord has; any other is an ``extra`` and goes into the JSON line.
# uvicorn's color_message repeats the message unmasked, with terminal colours.
_RECORD_FIELDS = frozenset(
    {*logging.makeLogRecord({}).__dict__, "message", "asctime", "color_message", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request and ticket ids.

    Extras passed to the log call are added as keys. Every text is masked with
    :func:`mask_pii` here too, so a handler without :class:`PiiFilter` writes nothing
    personal and no credential either.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        request_id, ticket_id = log_context()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_pii(record.getMessage()),
            "request_id": request_id,
            "ticket_id": ticket_id,
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in entry:
                entry[key] = _masked_arg(value) if not isinstance(value, bool) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = mask_pii(record.exc_text)
        if record.stack_info:
            entry["stack"] = mask_pii(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
