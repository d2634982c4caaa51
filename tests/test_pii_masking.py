"""Card numbers, emails, phones and addresses never leave the process in traces or logs.

Traces go to a LangSmith stand-in on 127.0.0.1 that records every request body the real
``langsmith.Client`` sends; logs are read from a handler on the root logger and from caplog.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import langsmith
import langsmith.run_trees
import pytest
import uvicorn
from fake_models import ToolCallingFake
from langchain_core.messages import BaseMessage
from langchain_core.tracers.langchain import LangChainTracer
from langgraph.checkpoint.memory import InMemorySaver
from langsmith import utils as ls_utils
from testkit import support_with

from graph.builder import build_graph
from supportgraph import observability
from supportgraph.observability import (
    UVICORN_LOGGERS,
    PiiFilter,
    configure_logging,
    mask_pii,
    trace_anonymizer,
    tracing_callbacks,
    uvicorn_log_config,
)
from supportgraph.services import Services
from supportgraph.support import SupportService

CARDS = ("4111 1111 1111 1111", "5555-5555-5555-4444")
EMAILS = ("jane.doe@example.com", "j.doe+orders@corp.example.org")
PHONES = ("(503) 555-0145", "+1 415 555 0199")
ADDRESSES = ("742 Evergreen Terrace", "1600 Amphitheatre Parkway")
MESSAGES = (
    "Hi, my laptop order ORD-789 still says processing. I was charged twice on card "
    f"{CARDS[0]}, email me at {EMAILS[0]} or call {PHONES[0]}.",
    f"Please ship it to {ADDRESSES[0]}, Springfield, OR 97403 instead. You can also reach me "
    f"at {EMAILS[1]} or {PHONES[1]}; my other card is {CARDS[1]}.",
    f"Or send the laptop to my office, {ADDRESSES[1]}, Mountain View, CA 94043.",
)


def canaries() -> list[str]:
    """Every piece of personal data sent, as written and as bare digits."""
    digits = ["".join(c for c in text if c.isdigit()) for text in (*CARDS, *PHONES)]
    return [*CARDS, *EMAILS, *PHONES, *ADDRESSES, *digits]


def unmasked(text: str) -> list[str]:
    return [canary for canary in canaries() if canary in text]


# --- the LangSmith stand-in -----------------------------------------------------------------


# What LangSmith's API says about itself: compressed multipart ingestion, as in production.
INFO = {"version": "0.10.0", "instance_flags": {"zstd_compression_enabled": True}}


class Recorder(ThreadingHTTPServer):
    """Answers like a LangSmith API and keeps every request it gets."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.requests: list[tuple[str, str, str, bytes]] = []  # method, path, type, body

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def text(self) -> str:
        return "\n".join(body.decode("utf-8", "replace") for *_, body in self.requests)

    def runs(self) -> list[dict[str, Any]]:
        """The runs created through the multipart endpoint (their main part)."""
        found = []
        for _, path, content_type, body in self.requests:
            if not path.startswith("/runs/multipart"):
                continue
            head = f"Content-Type: {content_type}\r\n\r\n".encode()
            form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            for part in form.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str) and name.count(".") == 1 and name.startswith("post."):
                    payload = part.get_payload(decode=True)
                    assert isinstance(payload, bytes)
                    found.append(json.loads(payload))
        return found


class RecordingHandler(BaseHTTPRequestHandler):
    server: Recorder

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "zstd":
            import zstandard

            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        return body

    def _answer(self) -> None:
        body = self._body() if self.command != "GET" else b""
        self.server.requests.append(
            (self.command, self.path, self.headers.get("Content-Type", ""), body)
        )
        answer = json.dumps(INFO if self.path.startswith("/info") else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # not the application's log


def _clear_langsmith_env_cache() -> None:
    # LangSmith caches what it read from the environment; the test changes the environment.
    ls_utils.get_env_var.cache_clear()  # type: ignore[attr-defined]
    ls_utils.get_tracer_project.cache_clear()


@pytest.fixture
def no_client_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No masked client or LangSmith default client exists, and both are dropped afterwards."""
    monkeypatch.setattr(observability, "_client", None)
    monkeypatch.setattr(langsmith.run_trees, "_CLIENT", None)


@pytest.fixture
def langsmith_recorder(monkeypatch: pytest.MonkeyPatch, no_client_yet: None) -> Iterator[Recorder]:
    """Tracing on, with the environment LangSmith reads, sending to the recorder."""
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_API_KEY", "test-key")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", recorder.url)
    monkeypatch.setenv("LANGSMITH_PROJECT", "pii-test")
    _clear_langsmith_env_cache()
    yield recorder
    if observability._client is not None:
        assert observability._client.info is not None  # asked while the recorder still answers
        observability._client.cleanup()
    recorder.shutdown()
    recorder.server_close()
    monkeypatch.undo()
    _clear_langsmith_env_cache()


# --- logging isolation ----------------------------------------------------------------------


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    """Whatever configure_logging or a dictConfig changes is put back afterwards."""
    root = logging.getLogger()
    saved_root = root.handlers[:], root.level
    saved = {
        name: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate, lg.disabled)
        for name in UVICORN_LOGGERS
        if (lg := logging.getLogger(name))
    }
    yield
    for handler in {*saved_root[0], *root.handlers}:
        handler.filters = [f for f in handler.filters if not isinstance(f, PiiFilter)]
    root.handlers[:], root.level = saved_root
    for name, (handlers, filters, level, propagate, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.filters[:] = handlers, filters
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled


def root_stream() -> io.StringIO:
    """A handler on the root logger, like the server's stderr one; returns what it wrote."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    return stream


# --- the acceptance test --------------------------------------------------------------------


class EchoingFailingModel(ToolCallingFake):
    """A provider that refuses every call and quotes the prompt in its error, as some do."""

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise RuntimeError(f"provider rejected the request: {messages[-1].content}")


def _service(services: Services, kind: str) -> SupportService:
    if kind == "llm_fails":
        return support_with(services, EchoingFailingModel(responses=[]))
    return SupportService(services, build_graph().compile(checkpointer=InMemorySaver()))


@pytest.mark.parametrize("kind", ["workflow", "llm_fails"])
@pytest.mark.usefixtures("isolated_logging")
def test_turns_trace_and_log_no_personal_data(
    services: Services,
    langsmith_recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    stream = root_stream()
    configure_logging()
    support = _service(services, kind)
    ticket = None
    for message in MESSAGES:
        result = support.handle_message(ticket_id=ticket, customer_id="cust_456", message=message)
        ticket = result.ticket_id
    for client in (observability._client, langsmith.run_trees._CLIENT):
        if client is not None:  # whichever client traced: its upload thread sends first
            client.flush()

    traced = langsmith_recorder.text()
    runs = langsmith_recorder.runs()
    assert runs and "ORD-789" in traced and "laptop" in traced
    assert unmasked(traced) == []
    assert "[card]" in traced and "[email]" in traced and "[phone]" in traced
    assert "[address]" in traced
    roots = [run for run in runs if not run.get("parent_run_id")]
    assert len(roots) == len(MESSAGES), "one traced root run per turn: no second tracer"
    assert (
        observability._client is not None and langsmith.run_trees._CLIENT is observability._client
    )

    logged = stream.getvalue()
    if kind == "llm_fails":  # the provider's error quoted the message
        assert "LLM resolver failed" in logged and "ORD-789" in logged
    assert unmasked(logged) == []
    assert unmasked(caplog.text) == []
    assert unmasked("\n".join(r.getMessage() for r in caplog.records)) == []


@pytest.mark.usefixtures("no_client_yet")
def test_without_tracing_nothing_changes_and_no_client_is_made(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_client(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a LangSmith client was made with tracing off")

    monkeypatch.setattr(langsmith, "Client", no_client)
    monkeypatch.setattr(langsmith.run_trees, "Client", no_client)
    assert tracing_callbacks() == []
    support = _service(services, "workflow")
    result = support.handle_message(ticket_id=None, customer_id="cust_456", message=MESSAGES[0])
    assert result.state["response"]
    assert observability._client is None


def test_the_langchain_variable_turns_masked_tracing_on_too(
    langsmith_recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LANGSMITH_TRACING")
    monkeypatch.setenv("LANGCHAIN_TRACING_V2", "true")
    _clear_langsmith_env_cache()
    [tracer] = tracing_callbacks()
    assert isinstance(tracer, LangChainTracer)
    assert tracer.client is observability._client is observability.masked_client()
    assert tracer.client._anonymizer is not None


# --- the masking function -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my laptop order ORD-789 and ord 1102", "my laptop order ORD-789 and ord 1102"),
        ("ORD 1234567 is late", "ORD 1234567 is late"),  # not a phone number
        (f"card {CARDS[0]} on ORD-789", "card [card] on ORD-789"),
        (f"card {CARDS[1]}.", "card [card]."),
        ("4111-1111-1111-1112 fails Luhn", "4111-1111-1111-1112 fails Luhn"),
        (f"mail {EMAILS[0]} or {EMAILS[1]}", "mail [email] or [email]"),
        (f"call {PHONES[0]} or {PHONES[1]}", "call [phone] or [phone]"),
        (f"to {ADDRESSES[0]}, Springfield, OR 97403 today", "to [address] today"),
        ("to 480 Birch Street instead", "to [address] instead"),
        ("refund $1,299.00 on 2024-05-01, 3 items", "refund $1,299.00 on 2024-05-01, 3 items"),
        ("Dana Whitfield asked", "Dana Whitfield asked"),  # no names known here
    ],
)
def test_mask_pii(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


def test_the_anonymizer_reaches_every_string_however_deep() -> None:
    deep: Any = {"text": f"card {CARDS[0]}"}
    for _ in range(30):
        deep = {"nested": [deep]}
    masked = trace_anonymizer()({"payload": deep, "order": "ORD-789", "n": 4111111111111111})
    assert unmasked(json.dumps(masked["payload"])) == [] and "[card]" in json.dumps(masked)
    assert masked["order"] == "ORD-789"


# --- the log filter -------------------------------------------------------------------------


@pytest.mark.usefixtures("isolated_logging")
def test_log_records_are_masked_in_args_and_exceptions() -> None:
    stream = root_stream()
    configure_logging()
    log = logging.getLogger("supportgraph.test")
    log.warning("card %s on %s", CARDS[0], "ORD-789")
    log.warning("reach me at %(email)s", {"email": EMAILS[0]})
    log.warning(f"plain text with {PHONES[0]}")
    try:
        raise ValueError(f"bad address {ADDRESSES[0]}, Springfield, OR 97403")
    except ValueError:
        log.exception("lookup failed for %s", "ORD-789")
    written = stream.getvalue()
    assert "card [card] on ORD-789" in written
    assert "reach me at [email]" in written and "plain text with [phone]" in written
    assert "ValueError: bad address [address]" in written and "Traceback" in written
    assert unmasked(written) == []


@pytest.mark.usefixtures("isolated_logging")
def test_uvicorn_logs_are_masked_after_uvicorn_configures_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    uvicorn.Config("server:create_app", factory=True, log_level="info")  # applies its config
    access_line = ("127.0.0.1:5000", "GET", f"/v1/tickets?email={EMAILS[0]}", "1.1", 200)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', *access_line)
    logging.getLogger("uvicorn.error").error("client %s sent garbage", PHONES[1])
    captured = capsys.readouterr()
    assert '"GET /v1/tickets?email=[email] HTTP/1.1" 200' in captured.out
    assert "client [phone] sent garbage" in captured.err
    assert unmasked(captured.out + captured.err) == []


@pytest.mark.usefixtures("isolated_logging")
def test_the_uvicorn_log_config_masks_worker_logs(capsys: pytest.CaptureFixture[str]) -> None:
    uvicorn.Config("server:create_app", factory=True, log_config=uvicorn_log_config())
    logging.getLogger("supportgraph.test").warning("mail %s", EMAILS[1])
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/x?c={CARDS[0]}", "1.1", 404
    )
    captured = capsys.readouterr()
    assert "mail [email]" in captured.err and "/x?c=[card]" in captured.out
    assert unmasked(captured.out + captured.err) == []
