"""The records' schema under Alembic: bring a database to head, adopting one made before it.

A database holding none of our tables gets the models' schema at once (``create_all``) and is
stamped at head: the migrations build the same tables (``supportgraph db check`` proves it)
in three times as long on SQLite, and tests make many fresh databases. A database made before
Alembic (our tables, no ``alembic_version``) is stamped at the revision whose schema it has
and upgraded from there. Everything else is ``alembic upgrade head``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from supportgraph.db.ticket_locks import LOCK_SPACE, advisory_key

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# LangGraph's checkpointers create and migrate these themselves (PostgreSQL shares our schema).
CHECKPOINTER_TABLES = frozenset(
    {"checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations", "writes"}
)
# What a database made before Alembic looks like at revision 0001 (frozen: no new database is
# made without alembic_version). 0002 added the columns below.
PRE_ALEMBIC_TABLES = frozenset(
    {
        "accessrecord", "actionexecution", "apikey", "customermessage", "demoactionlog",
        "democustomer", "demoemail", "demoorder", "demoorderitem", "demopayment",
        "escalationdecision", "idempotentrequest", "intentclassification",
        "intentmodelversion", "resolutionfeedback", "retrievalcontext", "supportagent",
        "supportticket",
    }
)  # fmt: skip
REVISION_0002_COLUMNS = (
    ("customermessage", "client_metadata"),
    ("actionexecution", "customer_reason"),
)
_UPGRADE_LOCK = "records-schema"
_in_process = threading.Lock()


class SchemaError(RuntimeError):
    """The database is in a state no revision describes."""


def load_models() -> MetaData:
    """Import every module that defines tables and return the metadata they registered."""
    from supportgraph.agents import models as agent_models  # noqa: F401
    from supportgraph.auth import models as auth_models  # noqa: F401
    from supportgraph.commerce import demo_tables  # noqa: F401
    from supportgraph.db import models  # noqa: F401

    return SQLModel.metadata


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Leave LangGraph's checkpoint tables out of every comparison."""
    return not (type_ == "table" and name in CHECKPOINTER_TABLES)


def render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Write SQLModel's column types as what they store, so revisions need no sqlmodel."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        length = getattr(obj.impl_instance, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    return False


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, in code: the packaged scripts, run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@cache
def script_directory() -> ScriptDirectory:
    """The revisions (read once per process)."""
    return ScriptDirectory.from_config(alembic_config())


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for a schema change, begun before anything else can change the schema.

    PostgreSQL: DDL is transactional, and an advisory lock makes servers starting together take
    turns. SQLite: ``BEGIN IMMEDIATE`` takes the write lock and makes the DDL part of the
    transaction (the driver would otherwise run it outside one); foreign keys are off meanwhile,
    because batch mode rebuilds a table by copying it and dropping the old one, and are checked
    before the commit.
    """
    with _in_process, engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # a no-op inside a transaction, so before it
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if sqlite:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:space, :key)"),
                        {"space": LOCK_SPACE, "key": advisory_key(_UPGRADE_LOCK)},
                    )
                yield connection
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise SchemaError("the migration left rows whose foreign key points nowhere")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(engine: Engine) -> str:
    """Bring the database to the newest revision; say what was done.

    Returns:
        ``created`` (a new database), ``current`` (nothing to do), ``adopted at <rev>`` (a
        database made before Alembic) or ``upgraded from <rev>``.

    """
    from supportgraph.db.schema_check import schema_differences  # it imports this module

    metadata = load_models()
    script = script_directory()
    with schema_transaction(engine) as connection:
        context = MigrationContext.configure(connection)
        if not set(inspect(connection).get_table_names()) & set(metadata.tables):
            metadata.create_all(connection)
            context.stamp(script, "head")
            return "created"
        current = context.get_current_revision()
        if current == script.get_current_head():
            return "current"
        outcome = f"upgraded from {current}"
        if current is None:
            current = pre_alembic_revision(connection)
            context.stamp(script, current)
            outcome = f"adopted at {current}"
        command.upgrade(alembic_config(connection), "head")
        if differences := schema_differences(connection):
            log.warning("after the upgrade the database still differs: %s", "; ".join(differences))
        return outcome


def pre_alembic_revision(connection: Connection) -> str:
    """The revision a database made by ``create_all`` before Alembic is at.

    Raises:
        SchemaError: tables of 0001 are missing, or only some of 0002's columns are there.

    """
    inspector = inspect(connection)
    missing = PRE_ALEMBIC_TABLES - set(inspector.get_table_names())
    if missing:
        raise SchemaError(f"database predates revision 0001: no table {', '.join(sorted(missing))}")
    present = [
        column in {c["name"] for c in inspector.get_columns(table)}
        for table, column in REVISION_0002_COLUMNS
    ]
    if all(present):
        return "0002"
    if not any(present):
        return "0001"
    raise SchemaError("database has some of revision 0002's columns but not all")
