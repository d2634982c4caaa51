"""In LangGraph Studio a proposal pauses the run; resuming with a yes or a no settles it.

The graph is compiled as Studio's dev server does (with a checkpointer of its own), and no
ticket row is created first: outside the HTTP service the graph opens it itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from sqlmodel import Session, select
from testkit import SPEC_MESSAGE, refund_payments

from graph.builder import build_graph
from graph.context import AgentContext
from supportgraph.db.models import ActionExecution, ActionStatus
from supportgraph.services import Services


@pytest.fixture
def studio(services: Services) -> Any:
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "studio-1"}}
    context = AgentContext(services=services, confirm_by_interrupt=True)
    turn = {"ticket_id": "studio-1", "customer_id": "cust_456", "message": SPEC_MESSAGE}
    paused = graph.invoke(turn, config, context=context)
    return graph, config, context, paused


def rows(services: Services) -> list[ActionExecution]:
    with Session(services.engine) as session:
        query = select(ActionExecution).where(ActionExecution.ticket_id == "studio-1")
        return list(session.exec(query).all())


def test_a_proposal_pauses_the_run(services: Services, studio: Any) -> None:
    graph, config, _, paused = studio
    [pause] = paused["__interrupt__"]
    assert "Shall I go ahead?" in pause.value["question"]
    [proposal] = pause.value["proposals"]
    assert (proposal["action"], proposal["arguments"]["order_id"]) == ("process_refund", "ORD-789")
    assert graph.get_state(config).next == ("confirm",)
    assert [row.status for row in rows(services)] == [ActionStatus.PROPOSED]
    assert refund_payments(services, "ORD-789") == []


@pytest.mark.parametrize("answer", ["yes please", True, "dict"])
def test_resuming_with_yes_executes_once(services: Services, studio: Any, answer: Any) -> None:
    graph, config, context, paused = studio
    if answer == "dict":
        proposal = paused["__interrupt__"][0].value["proposals"][0]
        answer = {"confirmed": True, "arguments_hash": proposal["arguments_hash"]}
    done = graph.invoke(Command(resume=answer), config, context=context)
    assert "__interrupt__" not in done
    assert "Done: order ORD-789 is cancelled" in done["response"]
    [row] = rows(services)  # the confirm node re-ran on resume, but proposed nothing again
    assert row.status == ActionStatus.EXECUTED
    assert [p.action_id for p in refund_payments(services, "ORD-789")] == [row.id]
    transcript = graph.get_state(config).values["transcript"]
    assert [m["role"] for m in transcript] == ["customer", "ai", "customer", "ai"]
    assert graph.get_state(config).values["open_proposals"] == []


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("no thanks", "I haven't changed anything"),
        (False, "I haven't changed anything"),
        ("hmm, what do you mean?", "I haven't changed anything"),  # unclear is not a yes
        ({"confirmed": True, "arguments_hash": "0" * 64}, "doesn't match the offer"),
    ],
)
def test_resuming_without_a_matching_yes_executes_nothing(
    services: Services, studio: Any, answer: Any, says: str
) -> None:
    graph, config, context, _ = studio
    done = graph.invoke(Command(resume=answer), config, context=context)
    assert says in done["response"]
    assert [row.status for row in rows(services)] == [ActionStatus.DECLINED]
    assert refund_payments(services, "ORD-789") == []


def test_only_runs_outside_the_service_pause() -> None:
    from graph.context import confirms_by_interrupt

    class Run:
        def __init__(self, context: AgentContext | None) -> None:
            self.context = context

    services = object()
    assert confirms_by_interrupt(Run(None))  # type: ignore[arg-type]
    assert confirms_by_interrupt(Run(AgentContext()))  # type: ignore[arg-type]
    assert not confirms_by_interrupt(Run(AgentContext(services=services)))  # type: ignore[arg-type]
    forced = AgentContext(services=services, confirm_by_interrupt=True)  # type: ignore[arg-type]
    assert confirms_by_interrupt(Run(forced))  # type: ignore[arg-type]
