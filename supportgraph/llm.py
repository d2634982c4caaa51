"""The optional LLM: an OpenAI-compatible chat model built from settings, or none."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
from langchain_core.language_models import BaseChatModel

from supportgraph.llm_breaker import CircuitBreaker
from supportgraph.llm_guard import LlmGuard
from supportgraph.settings import Settings


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """A ``ChatOpenAI`` for any OpenAI-compatible endpoint, or None when no LLM is configured."""
    if not settings.llm_enabled:
        return None
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model or "",
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_s,
        max_retries=0,  # retried by the LlmGuard, inside the turn's deadline
        temperature=0,
        http_client=httpx.Client(transport=WholeAnswerTimeout(httpx.HTTPTransport())),
    )


def make_llm_guard(settings: Settings) -> LlmGuard:
    """The guard every LLM call of this process goes through (one breaker per process)."""
    breaker = CircuitBreaker(
        failures=settings.llm_breaker_failures, cooldown_s=settings.llm_breaker_cooldown_s
    )
    return LlmGuard(
        breaker,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        turn_deadline_s=settings.llm_turn_deadline_s,
    )


class WholeAnswerTimeout(httpx.BaseTransport):
    """Ends a response still arriving when its request's read timeout has passed since it began.

    httpx times each read: an endpoint sending a few bytes now and then, each inside the
    timeout, held one attempt for as long as it liked, past the turn's deadline. Here the
    timeout bounds the whole answer too; a read in progress when it passes can still take one
    read timeout more.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        """Send requests through ``inner``."""
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """The response, its body cut off at the request's timeout."""
        budget = request.extensions.get("timeout", {}).get("read")
        started = time.monotonic()
        response = self.inner.handle_request(request)
        if budget is None or not isinstance(response.stream, httpx.SyncByteStream):
            return response
        body = _Until(response.stream, started + budget, request)
        body.check()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=body,
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


class _Until(httpx.SyncByteStream):
    """A response body that raises ``httpx.ReadTimeout`` once its deadline has passed."""

    def __init__(self, stream: httpx.SyncByteStream, deadline: float, request: httpx.Request):
        self.stream, self.deadline, self.request = stream, deadline, request

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            self.stream.close()
            raise httpx.ReadTimeout("the answer took longer than its timeout", request=self.request)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.stream:
            self.check()
            yield chunk

    def close(self) -> None:
        self.stream.close()
