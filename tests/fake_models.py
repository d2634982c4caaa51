"""Scripted chat models for the LLM paths (no network, ever)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage


class ToolCallingFake(FakeMessagesListChatModel):
    """Returns its scripted messages in turn and accepts ``bind_tools`` (as structured output
    and tool calling need); counts how often it was asked."""

    calls: int = 0

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingFake:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super()._generate(messages, *args, **kwargs)


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1") -> AIMessage:
    """An assistant message that calls one tool."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


class FailingModel(ToolCallingFake):
    """A model whose every call raises, like an endpoint that times out."""

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise TimeoutError("the LLM endpoint timed out")
