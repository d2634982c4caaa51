"""The LangGraph state machine: typed state, wiring, routing and checkpointer choice."""
