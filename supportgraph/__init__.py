"""supportgraph: settings, storage, commerce backend, knowledge and intents of the agent."""
