"""Alembic's environment and revisions for the records' database (driven from ``db.schema``)."""
