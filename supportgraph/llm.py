"""The optional LLM: an OpenAI-compatible chat model built from settings, or none."""

from __future__ import annotations

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
