"""The graph LangGraph Studio loads: compiled without a checkpointer (the dev server brings one)."""

from graph.builder import build_graph

graph = build_graph().compile()
