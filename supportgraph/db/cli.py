"""``supportgraph db``: bring the records' database to the newest migration; check migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from supportgraph.settings import get_settings

app = typer.Typer(help="The records' database schema (Alembic migrations).", no_args_is_help=True)

UrlOption = Annotated[
    str | None, typer.Option(help="a database URL; default: the configured database")
]


@app.command()
def upgrade(url: UrlOption = None) -> None:
    """Bring the database to the newest revision (a database made before Alembic is adopted)."""
    from supportgraph.db import schema
    from supportgraph.db.engine import make_engine

    engine = make_engine(url or get_settings().resolved_database_url)
    try:
        outcome = schema.upgrade(engine)
    except schema.SchemaError as exc:
        typer.echo(f"cannot upgrade: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    typer.echo(f"{outcome}; at {schema.script_directory().get_current_head()}")


@app.command()
def check(
    url: Annotated[
        str | None,
        typer.Option(help="compare this database instead of a scratch one built by the migrations"),
    ] = None,
) -> None:
    """Fail when the models and the migrations disagree, naming each difference."""
    from supportgraph.db import schema_check
    from supportgraph.db.engine import make_engine
    from supportgraph.db.schema import script_directory

    if url is None:
        problems = schema_check.check_migrations()
        subject = "the models and the migrations disagree"
    else:
        engine = make_engine(url)
        try:
            problems = schema_check.database_problems(engine)
        finally:
            engine.dispose()
        subject = "the database and the models disagree"
    if problems:
        typer.echo(f"{subject}:", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        typer.echo("write a revision: supportgraph db revision -m '...'", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"models and migrations agree (head {script_directory().get_current_head()})")


@app.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="what the revision changes")],
) -> None:
    """Write the next revision from the models' differences; read and adjust it before use."""
    from supportgraph.db.schema_check import new_revision

    typer.echo(str(new_revision(message)))
