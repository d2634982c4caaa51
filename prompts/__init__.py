"""Text sent to an LLM, versioned in one place. A prompt describes rules; code enforces them."""
