"""Storage: SQLModel tables, engine and session handling, repository functions."""
