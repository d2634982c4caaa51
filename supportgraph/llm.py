"""The optional LLM: an OpenAI-compatible chat model built from settings, or none."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

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
        max_retries=settings.llm_max_retries,
        temperature=0,
    )
