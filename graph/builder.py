"""Wires the nodes into the support graph; routing lives here, in conditional edges."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graph.context import AgentContext, confirms_by_interrupt
from graph.state import InputState, OutputState, TicketState
from nodes.classify import classify
from nodes.confirm import confirm
from nodes.gate import gate
from nodes.guard import guard
from nodes.handoff import handoff
from nodes.resolve import resolve
from nodes.respond import respond
from nodes.retrieve import retrieve


def route_after_classify(state: TicketState) -> Literal["retrieve", "resolve", "handoff"]:
    """A ticket already with a person skips automation; a yes or no needs no retrieval."""
    if state.get("handed_off"):
        return "handoff"
    return "resolve" if state.get("confirmation") else "retrieve"


def route_after_gate(
    state: TicketState, runtime: Runtime[AgentContext]
) -> Literal["respond", "handoff", "confirm"]:
    """Escalate or answer, as the gate decided; in Studio, pause on an open proposal first."""
    gate = state.get("gate")
    if gate and gate["escalate"]:
        return "handoff"
    if state.get("open_proposals") and confirms_by_interrupt(runtime):
        return "confirm"
    return "respond"


def build_graph() -> StateGraph[TicketState, AgentContext, InputState, OutputState]:
    """The uncompiled graph; each host compiles it with its own checkpointer."""
    builder = StateGraph(
        TicketState, context_schema=AgentContext, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("guard", guard)
    builder.add_node("classify", classify)
    builder.add_node("retrieve", retrieve)
    builder.add_node("resolve", resolve)
    builder.add_node("gate", gate)
    builder.add_node("confirm", confirm)
    builder.add_node("respond", respond)
    builder.add_node("handoff", handoff)
    builder.add_edge(START, "guard")
    builder.add_edge("guard", "classify")
    builder.add_conditional_edges("classify", route_after_classify)
    builder.add_edge("retrieve", "resolve")
    builder.add_edge("resolve", "gate")
    builder.add_conditional_edges("gate", route_after_gate)
    builder.add_edge("confirm", "gate")
    builder.add_edge("respond", END)
    builder.add_edge("handoff", END)
    return builder
