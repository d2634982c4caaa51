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
    """Per-run context. Without services (as in LangGraph Studio) the process defaults are used."""

    services: Services | None = None


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
    )
