"""LLM token usage of one turn, counted from what the chat model reported."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult


class TokenMeter(BaseCallbackHandler):
    """Adds up the input and output tokens of every chat-model call made under it.

    Passed as a callback to the graph, it sees the calls of every node, the LLM intent tier
    and tool-calling resolver included, because LangChain hands a run's callbacks down to the
    model calls made inside it.
    """

    def __init__(self) -> None:
        """Start at zero."""
        super().__init__()
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._lock = threading.Lock()

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Count one call's tokens (the message's usage, else the provider's token_usage)."""
        prompt, completion = usage_of(response)
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion


def usage_of(response: LLMResult) -> tuple[int, int]:
    """A call's input and output tokens: the message's usage, else the provider's token_usage."""
    for candidates in response.generations:
        for generation in candidates:
            message = generation.message if isinstance(generation, ChatGeneration) else None
            if isinstance(message, AIMessage) and message.usage_metadata:
                usage = message.usage_metadata
                return int(usage["input_tokens"]), int(usage["output_tokens"])
    reported = (response.llm_output or {}).get("token_usage") or {}
    return int(reported.get("prompt_tokens") or 0), int(reported.get("completion_tokens") or 0)
