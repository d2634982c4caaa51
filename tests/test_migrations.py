"""Alembic migrations: from empty, from revision 0001 with a row in every table, from before
Alembic, and `db check` against the models (on SQLite and, when configured, PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from conftest import make_settings
from sqlalchemy import Connection, Engine, MetaData, text
from sqlmodel import Session
from typer.testing import CliRunner

from supportgraph.cli import app
from supportgraph.db import schema, schema_check
from supportgraph.db.engine import make_engine
from supportgraph.db.models import ActionExecution, CustomerMessage
from supportgraph.db.ticket_locks import LOCK_SPACE, advisory_key
from supportgraph.services import Services

REPO = Path(__file__).resolve().parents[1]
HEAD = schema.script_directory().get_current_head()
NEW_IN_0002 = {"customermessage": "client_metadata", "actionexecution": "customer_reason"}
TABLES_SINCE_0002 = frozenset({"knowledgegap"})


def wipe_postgres(url: str) -> None:
    """Remove our tables, enum types and version table (LangGraph's tables stay)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            schema.load_models().drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
            connection.execute(text("DROP TYPE IF EXISTS ticketstatus, actionstatus"))
    finally:
        engine.dispose()


@pytest.fixture
def blank(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine over a database without any of our tables."""
    if db_kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'blank.sqlite'}")
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    wipe_postgres(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    wipe_postgres(url)  # the next test's reset_postgres finds a schema it can bring to head


def migrate(engine: Engine, revision: str) -> None:
    """Run the real revisions up to ``revision`` (never the create_all shortcut)."""
    with schema.schema_transaction(engine) as connection:
        command.upgrade(schema.alembic_config(connection), revision)


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def differences(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return schema_check.schema_differences(connection)


def sample(column: sa.Column[Any]) -> Any:
    """A value a reflected column accepts; keys are all 'k1' so every foreign key resolves."""
    kind = column.type
    model = schema.load_models().tables[column.table.name].c.get(column.name)
    if model is not None and isinstance(model.type, sa.Enum):  # SQLite stores it as VARCHAR
        return model.type.enums[0]
    if isinstance(kind, sa.Integer):
        return 1 if column.primary_key else 7
    if isinstance(kind, sa.Boolean):
        return True
    if isinstance(kind, sa.Float | sa.Numeric):
        return 0.5
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
    if isinstance(kind, sa.JSON):
        return {"kept": [1, "two"], "name": column.name}
    if column.primary_key or column.foreign_keys:
        return "k1"
    length = getattr(kind, "length", None) or 64
    return f"{column.table.name}.{column.name}"[-length:]


def our_tables(connection: Connection) -> list[sa.Table]:
    reflected = MetaData()
    reflected.reflect(connection)
    return [
        table
        for table in reflected.sorted_tables
        if table.name != "alembic_version" and table.name not in schema.CHECKPOINTER_TABLES
    ]


def fill_every_table(engine: Engine) -> dict[str, dict[str, Any]]:
    """Insert one row into every table the database has; return the rows as stored."""
    with engine.begin() as connection:
        tables = our_tables(connection)
        for table in tables:
            connection.execute(table.insert().values({c.name: sample(c) for c in table.columns}))
    return read_every_table(engine)


def read_every_table(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        return {
            table.name: dict(connection.execute(sa.select(table)).mappings().one())
            for table in our_tables(connection)
            if table.name not in TABLES_SINCE_0002 or connection.execute(sa.select(table)).first()
        }


def make_pre_alembic(engine: Engine, *, newest_columns: bool) -> None:
    """What create_all made before Alembic: our tables, no alembic_version."""
    with engine.begin() as connection:
        schema.load_models().create_all(connection)
        for table in TABLES_SINCE_0002:  # added by a revision, never by create_all
            connection.execute(text(f'DROP TABLE "{table}"'))
        if not newest_columns:  # the release before 0002 had no such columns
            for table, column in NEW_IN_0002.items():
                connection.execute(text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))


def test_the_migrations_build_the_models_schema_from_empty(blank: Engine) -> None:
    migrate(blank, "head")
    assert revision_of(blank) == HEAD
    assert differences(blank) == []


def test_db_upgrade_creates_a_new_database_at_head(blank: Engine) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--url", blank.url.render_as_string(False)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created; at " + HEAD)
    assert revision_of(blank) == HEAD
    assert differences(blank) == []
    assert schema.upgrade(blank) == "current"


def test_a_database_at_0001_reaches_head_with_every_row_kept(blank: Engine) -> None:
    migrate(blank, "0001")
    before = fill_every_table(blank)
    assert set(before) == set(schema.load_models().tables) - TABLES_SINCE_0002  # a row in each

    assert schema.upgrade(blank) == "upgraded from 0001"

    assert revision_of(blank) == HEAD
    assert differences(blank) == []
    after = read_every_table(blank)
    for table, row in before.items():
        assert {name: after[table][name] for name in row} == row, table
    for table, column in NEW_IN_0002.items():
        assert after[table][column] is None
    with Session(blank) as session:  # the models read the upgraded rows
        message = session.get(CustomerMessage, "k1")
        action = session.get(ActionExecution, "k1")
        assert message is not None and message.client_metadata is None
        assert action is not None and action.customer_reason is None


def test_start_up_adopts_a_database_made_before_alembic(blank: Engine, tmp_path: Path) -> None:
    make_pre_alembic(blank, newest_columns=False)
    before = fill_every_table(blank)
    assert revision_of(blank) is None

    services = Services(make_settings(data_dir=tmp_path), engine=blank)
    assert services.engine is blank  # start-up ran the schema upgrade on it

    assert revision_of(blank) == HEAD
    assert differences(blank) == []
    after = read_every_table(blank)
    for table, row in before.items():
        assert {name: after[table][name] for name in row} == row, table


def test_a_pre_alembic_database_with_the_newest_columns_is_stamped_at_0002(blank: Engine) -> None:
    make_pre_alembic(blank, newest_columns=True)
    fill_every_table(blank)
    assert schema.upgrade(blank) == "adopted at 0002"
    assert revision_of(blank) == HEAD
    assert differences(blank) == []


def test_a_database_matching_no_revision_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'odd.sqlite'}")
    make_pre_alembic(engine, newest_columns=True)
    with engine.begin() as connection:
        connection.execute(text('ALTER TABLE "actionexecution" DROP COLUMN "customer_reason"'))
    with pytest.raises(schema.SchemaError, match="some of revision 0002"):
        schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text('DROP TABLE "accessrecord"'))
    with pytest.raises(schema.SchemaError, match="no table accessrecord"):
        schema.upgrade(engine)
    engine.dispose()


def test_downgrade_to_0001_and_back_keeps_the_rows(blank: Engine) -> None:
    migrate(blank, "head")
    before = fill_every_table(blank)
    with schema.schema_transaction(blank) as connection:
        command.downgrade(schema.alembic_config(connection), "0001")
    migrate(blank, "head")
    after = read_every_table(blank)
    assert set(before) == set(schema.load_models().tables)  # a row in every table
    for table, row in before.items():
        if table in TABLES_SINCE_0002:  # its rows go with it on the way down
            assert table not in after, table
            continue
        kept = {name: value for name, value in row.items() if NEW_IN_0002.get(table) != name}
        assert {name: after[table][name] for name in kept} == kept, table


@pytest.mark.postgres
def test_servers_starting_together_upgrade_one_at_a_time(postgres_url: str) -> None:
    wipe_postgres(postgres_url)
    holder, engine = make_engine(postgres_url), make_engine(postgres_url)
    outcome: list[str] = []
    try:
        with holder.connect() as connection:  # another server is upgrading
            key = {"space": LOCK_SPACE, "key": advisory_key("records-schema")}
            connection.execute(text("SELECT pg_advisory_lock(:space, :key)"), key)
            worker = threading.Thread(target=lambda: outcome.append(schema.upgrade(engine)))
            worker.start()
            worker.join(timeout=1.0)
            assert worker.is_alive() and not outcome
            connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"), key)
            worker.join(timeout=30)
        assert outcome == ["created"]
    finally:
        holder.dispose()
        engine.dispose()
        wipe_postgres(postgres_url)


def test_db_check_passes_on_the_repository() -> None:
    result = CliRunner().invoke(app, ["db", "check"])
    assert result.exit_code == 0, result.output
    assert f"head {HEAD}" in result.stdout


def run_cli(package_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``supportgraph`` in a subprocess that imports the package from ``package_root``."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run(
        [sys.executable, "-m", "supportgraph.cli", *args],
        cwd=package_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_check_fails_on_a_model_change_without_a_migration(tmp_path: Path) -> None:
    copy = tmp_path / "supportgraph"
    shutil.copytree(
        REPO / "supportgraph", copy, ignore=shutil.ignore_patterns("__pycache__", "var")
    )
    models = copy / "db" / "models.py"
    anchor = "    csat_score: int | None = None\n"
    source = models.read_text()
    assert anchor in source
    models.write_text(
        source.replace(
            anchor, anchor + "    loyalty_tier: str | None = Field(default=None, max_length=16)\n"
        )
    )

    failed = run_cli(tmp_path, "db", "check")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "add_column supportticket.loyalty_tier" in failed.stderr

    written = run_cli(tmp_path, "db", "revision", "-m", "loyalty tier")
    assert written.returncode == 0, written.stderr
    revision = Path(written.stdout.strip().splitlines()[-1])
    assert revision.parent == copy / "db" / "migrations" / "versions"
    assert "loyalty_tier" in revision.read_text()
    passed = run_cli(tmp_path, "db", "check")
    assert passed.returncode == 0, passed.stderr
    assert not any((REPO / "supportgraph/db/migrations/versions").glob("*loyalty*"))
