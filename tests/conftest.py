"""Shared fixtures: one embedder and one prepared data set per session, fresh databases per test.

Everything here is real: SQLite files in tmp dirs, a Chroma persistent index, the packaged
MiniLM model, the FastAPI app with its lifespan and, when configured, PostgreSQL.
Only network access is removed, so no test can ever reach an LLM.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import SQLModel
from testkit import DocumentedClient, Prepared

from server import create_app
from supportgraph.bootstrap import prepare
from supportgraph.db.engine import create_schema, make_engine
from supportgraph.demo.seed import seed_demo_store
from supportgraph.knowledge.embedder import Embedder
from supportgraph.services import Services
from supportgraph.settings import Settings, get_settings

pytest_plugins = ("browserkit",)

POSTGRES_URL = os.environ.get("SUPPORTGRAPH_TEST_POSTGRES_URL")
POSTGRES_SKIP = (
    "SUPPORTGRAPH_TEST_POSTGRES_URL not set: PostgreSQL tests need a server "
    "(CI uses postgresql://postgres@127.0.0.1:5432/test)"
)
# Variables that could switch on an LLM, tracing, or point the app at other stores.
_NETWORK_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "LANGSMITH_API_KEY",
    "LANGSMITH_TRACING",
    "LANGCHAIN_API_KEY",
    "LANGCHAIN_TRACING_V2",
    "LANGCHAIN_ENDPOINT",
)


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _no_network() -> Iterator[None]:
    """No LLM settings, no tracing, and no socket may connect beyond the loopback."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise RuntimeError(f"network access is disabled in tests (tried {address!r})")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise RuntimeError(f"network access is disabled in tests (tried {address!r})")
        return real_connect_ex(self, address)

    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SUPPORTGRAPH_") and name != "SUPPORTGRAPH_TEST_POSTGRES_URL":
                patch.delenv(name)
        for name in _NETWORK_ENV:
            patch.delenv(name, raising=False)
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.setenv("ANONYMIZED_TELEMETRY", "False")
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
        get_settings.cache_clear()
        yield
        get_settings.cache_clear()


def make_settings(**values: Any) -> Settings:
    """Settings from the given values and the (cleaned) environment, never from a .env file."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a WAL-mode database, through the sqlite3 backup API."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture(scope="session")
def embedder(_no_network: None) -> Embedder:
    """The packaged all-MiniLM-L6-v2 model, loaded once."""
    model = Embedder()
    model.embed_one("warm up")
    return model


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Prepared]:
    """Built once with the product's own ``prepare``; tests copy the database, share the rest."""
    root = tmp_path_factory.mktemp("template")
    services = Services(make_settings(data_dir=root), embedder=embedder)
    report = prepare(services)
    services.engine.dispose()
    yield Prepared(
        root=root,
        database=root / "supportgraph.sqlite",
        chroma_path=services.settings.resolved_chroma_path,
        intent_model_dir=services.settings.resolved_intent_model_dir,
        services=services,
        report=report,
    )
    services.engine.dispose()


def settings_for(data_dir: Path, prepared: Prepared, **values: Any) -> Settings:
    """Settings over a data dir of its own, with the shared (read-only) article index.

    The copied database's model registry points at the template's serving intent model,
    which is only read; any model a test trains is written under its own data dir.
    """
    return make_settings(**{"data_dir": data_dir, "chroma_path": prepared.chroma_path, **values})


@pytest.fixture
def data_dir(tmp_path: Path, prepared: Prepared) -> Path:
    """A data directory holding a fresh copy of the seeded database."""
    directory = tmp_path / "data"
    copy_sqlite(prepared.database, directory / "supportgraph.sqlite")
    return directory


@pytest.fixture
def services_factory(
    data_dir: Path, prepared: Prepared, embedder: Embedder
) -> Iterator[Callable[..., Services]]:
    """Builds Services over this test's data dir; keyword arguments override settings."""
    built: list[Services] = []

    def make(**values: Any) -> Services:
        services = Services(settings_for(data_dir, prepared, **values), embedder=embedder)
        built.append(services)
        return services

    yield make
    for services in built:
        if "engine" in services.__dict__:
            services.engine.dispose()


@pytest.fixture
def services(services_factory: Callable[..., Services]) -> Services:
    """Services over this test's own database and checkpoints."""
    return services_factory()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """The real app, lifespan included, over this test's services."""
    with DocumentedClient(create_app(services=services)) as test_client:
        yield test_client


# --- PostgreSQL -----------------------------------------------------------------------------


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL whose connections use a schema of this session's own, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    schema = f"sg_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(POSTGRES_URL, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def reset_postgres(url: str, *, seed: bool) -> None:
    """Drop and recreate every table of the session schema, optionally seeding the store."""
    engine = make_engine(url)
    try:
        create_schema(engine)  # registers every table in the metadata
        SQLModel.metadata.drop_all(engine)
        create_schema(engine)
        if seed:
            seed_demo_store(engine)
    finally:
        engine.dispose()


def drop_checkpoint_tables(url: str) -> None:
    """Leave the schema as if no checkpointer had ever set it up."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            tables = (
                "checkpoint_writes",
                "checkpoint_blobs",
                "checkpoints",
                "checkpoint_migrations",
            )
            for table in tables:
                connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    finally:
        engine.dispose()


@pytest.fixture
def seeded_postgres_url(postgres_url: str) -> str:
    """The session schema, wiped and seeded with the demo store for this test."""
    reset_postgres(postgres_url, seed=True)
    return postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Which database a storage test runs on."""
    return str(request.param)


@pytest.fixture
def empty_engine(
    db_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Engine]]:
    """Makes engines over empty schemas (on PostgreSQL each call wipes the session schema)."""
    engines: list[Engine] = []

    def make() -> Engine:
        if db_kind == "sqlite":
            engine = make_engine(f"sqlite:///{tmp_path / f'db{len(engines)}.sqlite'}")
        else:
            url = request.getfixturevalue("postgres_url")
            reset_postgres(url, seed=False)
            engine = make_engine(url)
        create_schema(engine)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def store_engine(
    db_kind: str, empty_engine: Callable[[], Engine], tmp_path: Path, request: pytest.FixtureRequest
) -> Engine:
    """A freshly seeded demo store on the database under test."""
    if db_kind == "sqlite":
        prepared: Prepared = request.getfixturevalue("prepared")
        target = tmp_path / "store.sqlite"
        copy_sqlite(prepared.database, target)
        engine = make_engine(f"sqlite:///{target}")
        request.addfinalizer(engine.dispose)
        return engine
    engine = empty_engine()
    seed_demo_store(engine)
    return engine
