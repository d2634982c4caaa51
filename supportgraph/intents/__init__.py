"""Intent classification: the taxonomy, the keyword rules and the embedding model."""
