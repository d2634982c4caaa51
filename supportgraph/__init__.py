"""supportgraph: the support agent's platform code (settings, storage, backend, knowledge, intents)."""
