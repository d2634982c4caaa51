"""Alembic's environment: run the revisions on the connection ``db.schema`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from supportgraph.db.schema import include_name, load_models, render_item


def run_migrations(connection: Connection) -> None:
    """Run the revisions Alembic asked for; SQLite alters tables in batch (copy and move)."""
    context.configure(
        connection=connection,
        target_metadata=load_models(),
        include_name=include_name,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Use the caller's connection, or open one on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    from supportgraph.db.engine import make_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection: run migrations through 'supportgraph db'")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


main()
