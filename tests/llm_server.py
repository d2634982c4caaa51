"""A small OpenAI-compatible chat server of our own, on 127.0.0.1, scripted per test.

Tests queue what ``POST /v1/chat/completions`` answers, one entry per request: a reply (text
and/or tool calls, with ``usage`` tokens), an HTTP error (500, 429 with ``Retry-After``), a
hang longer than the client's timeout, or a raw body (truncated JSON, not JSON at all). Every
request is recorded, so a test can count the calls the product made. Settings pointing
``llm_base_url`` at ``server.base_url`` make the real ``langchain-openai`` client talk to it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "test-model"


@dataclass(frozen=True)
class Reply:
    """A chat completion: text, tool calls ``(name, arguments)``, and the tokens it reports."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    prompt_tokens: int = 100
    completion_tokens: int = 20


@dataclass(frozen=True)
class Status:
    """An HTTP error with an OpenAI-style error body (and headers such as ``Retry-After``)."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Say nothing for this long (or until the server stops)."""

    seconds: float = 60.0


@dataclass(frozen=True)
class Raw:
    """This body, as is, with status 200 and a JSON content type."""

    body: bytes


@dataclass(frozen=True)
class Trickle:
    """A reply whose body arrives a few bytes at a time, each well inside a read timeout."""

    reply: Reply
    every_s: float = 0.4
    pieces: int = 20


Script = Reply | Status | Hang | Raw | Trickle


@dataclass(frozen=True)
class Seen:
    """One request the server got."""

    at: float  # time.monotonic()
    body: dict[str, Any]

    @property
    def tool_names(self) -> list[str]:
        """The tools the request offered the model."""
        return [tool["function"]["name"] for tool in self.body.get("tools", [])]


def completion(reply: Reply, *, model: str, index: int) -> dict[str, Any]:
    """The JSON body of a chat completion carrying ``reply``."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{index}_{n}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for n, (name, arguments) in enumerate(reply.tool_calls)
        ]
    return {
        "id": f"chatcmpl-{index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


class LlmServer:
    """The server: ``script(...)`` queues answers, ``requests`` lists what it was asked.

    With the queue empty it answers ``default`` (a 500 unless told otherwise).
    """

    def __init__(self, default: Script | None = None) -> None:
        """Bind a free loopback port; ``start()`` serves it from a thread."""
        self.default: Script = default or Status(500)
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Seen] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """What ``llm_base_url`` should be."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *answers: Script) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._queue.extend(answers)

    @property
    def calls(self) -> int:
        """How many chat requests arrived."""
        with self._lock:
            return len(self.requests)

    @property
    def pending(self) -> int:
        """Queued answers not yet given."""
        with self._lock:
            return len(self._queue)

    def start(self) -> LlmServer:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release any hanging request and stop serving."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next(self, body: dict[str, Any]) -> tuple[Script, int]:
        with self._lock:
            self.requests.append(Seen(time.monotonic(), body))
            answer = self._queue.popleft() if self._queue else self.default
            return answer, len(self.requests)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found", "type": "not_found"}})
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "bad JSON", "type": "invalid"}})
                    return
                answer, index = server._next(body)
                if isinstance(answer, Reply):
                    model = str(body.get("model") or MODEL)
                    self._send(200, completion(answer, model=model, index=index))
                elif isinstance(answer, Status):
                    error = {"message": f"scripted {answer.code}", "type": "server_error"}
                    self._send(answer.code, {"error": error}, answer.headers)
                elif isinstance(answer, Trickle):
                    model = str(body.get("model") or MODEL)
                    data = json.dumps(completion(answer.reply, model=model, index=index)).encode()
                    self._send_bytes(200, data, {}, every_s=answer.every_s, pieces=answer.pieces)
                elif isinstance(answer, Hang):
                    server._stopping.wait(answer.seconds)
                    self._send(500, {"error": {"message": "hung", "type": "server_error"}})
                else:
                    self._send_bytes(200, answer.body, {})

            def _send(
                self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                self._send_bytes(code, json.dumps(payload).encode(), headers or {})

            def _send_bytes(
                self,
                code: int,
                data: bytes,
                headers: dict[str, str],
                *,
                every_s: float = 0.0,
                pieces: int = 1,
            ) -> None:
                size = max(1, -(-len(data) // pieces))  # an empty body is one empty write
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    for start in range(0, len(data), size):
                        if start and server._stopping.wait(every_s):
                            return
                        self.wfile.write(data[start : start + size])
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout) before the answer

        return Handler


@contextmanager
def llm_server(default: Script | None = None) -> Iterator[LlmServer]:
    """A started server, stopped afterwards."""
    server = LlmServer(default).start()
    try:
        yield server
    finally:
        server.stop()
