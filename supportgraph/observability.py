"""Personal data masked in what leaves the process to be looked at: LangSmith traces and logs.

Card numbers, emails, street addresses and phone numbers are replaced by placeholders such
as ``[card]`` with the knowledge base's redaction (:func:`~supportgraph.agents.redaction.redact`),
except that order ids stay: they name an order, not a person, and debugging needs them.
Customers' names are not masked: a trace or a log line does not know whose they are.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import langsmith
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers.langchain import LangChainTracer
from langsmith import utils as ls_utils
from langsmith.anonymizer import create_anonymizer
from uvicorn.config import LOGGING_CONFIG

from supportgraph.agents.redaction import redact

# LangSmith's anonymizer leaves alone strings nested deeper than this. A run's inputs and
# outputs are a few levels deep; the limit only has to be out of their reach.
ANONYMIZER_MAX_DEPTH = 100
# uvicorn's records are made on these loggers, whose own handlers do not propagate to root.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

# Every pattern masked needs a digit or an "@": most strings of a trace can be passed over.
_MAYBE_PII = re.compile(r"[\d@]")

_client: langsmith.Client | None = None
_client_lock = threading.Lock()


def mask_pii(text: str) -> str:
    """The text with card numbers, emails, street addresses and phone numbers masked.

    Args:
        text: A trace value or a log message.

    Returns:
        The text with ``[card]``, ``[email]``, ``[address]`` or ``[phone]`` where they were;
        order ids such as ``ORD-789`` are kept.

    """
    if not _MAYBE_PII.search(text):
        return text
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


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr at ``level``, as ``logging.basicConfig``, with personal data masked.

    The filter goes on every handler of the root logger, where propagating records end, and
    on uvicorn's loggers, whose handlers do not propagate: ``uvicorn.run`` replaces those
    handlers with its own log config but keeps the loggers' filters. Calling it again adds
    nothing. Worker processes (``uvicorn.run(..., workers=N)``) configure their logging from
    ``log_config`` only: pass :func:`uvicorn_log_config` there.

    Args:
        level: The root logger's level.

    """
    logging.basicConfig(level=level)
    logging.getLogger().setLevel(level)  # basicConfig leaves a configured root as it is
    for handler in logging.getLogger().handlers:
        handler.addFilter(PII_FILTER)
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).addFilter(PII_FILTER)
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(PII_FILTER)


def uvicorn_log_config(level: int = logging.INFO) -> dict[str, Any]:
    """The log config uvicorn uses by default, with personal data masked and a root handler.

    Args:
        level: The root logger's level.

    Returns:
        A ``logging.config.dictConfig`` dictionary for ``uvicorn.run(log_config=...)``.

    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"pii": {"()": PiiFilter}}
    for handler in config["handlers"].values():
        handler["filters"] = ["pii"]
    config["root"] = {"handlers": ["default"], "level": logging.getLevelName(level)}
    return config
