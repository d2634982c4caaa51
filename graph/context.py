"""The runtime context a graph run receives: the services, never stored in state."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from langgraph.runtime import Runtime

from supportgraph.services import Services
from supportgraph.settings import get_settings
from tools.context import ToolContext


@dataclass
class AgentContext:
    """Per-run context. Without services (as in LangGraph Studio) the process defaults are used.

    ``confirm_by_interrupt`` decides how a proposal is confirmed: True pauses the run with
    ``interrupt()`` until it is resumed with a yes or a no (LangGraph Studio); False leaves the
    proposal open for a later message or API call (the HTTP service). None (the default)
    interrupts only when the run has no injected services, that is, outside the service.
    """

    services: Services | None = None
    confirm_by_interrupt: bool | None = None
    measure_only: bool = False  # calibration: record the gate's signals, never hand off


def confirms_by_interrupt(runtime: Runtime[AgentContext]) -> bool:
    """Whether this run pauses for confirmation instead of waiting for the next message."""
    context = runtime.context
    if context is None:
        return True
    if context.confirm_by_interrupt is not None:
        return context.confirm_by_interrupt
    return context.services is None


@lru_cache(maxsize=1)
def default_services() -> Services:
    """Services built from the environment, for hosts that inject none."""
    return Services(get_settings())


def services_of(runtime: Runtime[AgentContext]) -> Services:
    """The services of this run."""
    context = runtime.context
    return context.services if context and context.services else default_services()


def tool_context(services: Services, *, customer_id: str, ticket_id: str | None) -> ToolContext:
    """Tools act for the conversation's customer only: identity comes from state, not a model."""
    return ToolContext(
        customer_id=customer_id,
        ticket_id=ticket_id,
        backend=services.backend,
        engine=services.engine,
        policy=services.policy,
        embedder=services.embedder,
    )
