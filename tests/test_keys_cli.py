"""`supportgraph keys` and the start-up checks of `supportgraph serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from testkit import Prepared
from typer.testing import CliRunner

from supportgraph.auth import keys
from supportgraph.auth.audit import Actor, access_log, record_access
from supportgraph.auth.principals import Scope
from supportgraph.cli import app
from supportgraph.db.engine import make_engine
from supportgraph.settings import get_settings


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch, prepared: Prepared) -> Iterator[Path]:
    monkeypatch.setenv("SUPPORTGRAPH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SUPPORTGRAPH_CHROMA_PATH", str(prepared.chroma_path))
    monkeypatch.setenv("SUPPORTGRAPH_INTENT_MODEL_DIR", str(prepared.intent_model_dir))
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_create_shows_the_key_once_list_never_and_revoke_stops_it(env: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "alice", "--scope", "agent"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sgk_")
    engine = make_engine(get_settings().resolved_database_url)
    [row] = keys.list_keys(engine)
    assert keys.principal_for_key(secret, row).id == "alice"

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and secret not in listed.output
    assert json.loads(listed.stdout)["scopes"] == ["agent"]

    assert runner.invoke(app, ["keys", "revoke", row.id]).exit_code == 0
    with pytest.raises(keys.KeyRefused, match="revoked"):
        keys.principal_for_key(secret, keys.load_key(engine, row.id))
    engine.dispose()


@pytest.mark.parametrize(
    ("scopes", "said"),
    [(["customer"], "signed tokens"), (["root"], "unknown scope"), ([], "Missing option")],
)
def test_create_refuses_scopes_a_key_cannot_hold(env: Path, scopes: list[str], said: str) -> None:
    arguments = ["keys", "create", "someone", *[f"--scope={scope}" for scope in scopes]]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2 and said in result.output


def test_serve_refuses_a_network_address_without_credentials(env: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "no credentials configured" in result.output
    engine = make_engine(get_settings().resolved_database_url)
    assert keys.list_keys(engine) == []  # no development key is made for a network address
    engine.dispose()


def test_two_workers_stop_with_a_serve_that_refuses_its_address(env: Path) -> None:
    """The workers are forked before the parent's start-up checks; a refusal ends them too."""
    command = [sys.executable, "-m", "supportgraph.cli", "serve", "--host", "0.0.0.0"]
    result = subprocess.run(
        [*command, "--workers", "2"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2 and "no credentials configured" in result.stderr
    assert not [pid for pid in _processes_run_as(command) if pid != os.getpid()]


def _processes_run_as(command: list[str]) -> list[int]:
    """Live processes whose command line starts with ``command`` (Linux /proc)."""
    wanted = "\0".join(command).encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(wanted):
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def test_keys_and_access_records_on_each_database(empty_engine: Callable[[], Engine]) -> None:
    engine = empty_engine()
    created = keys.create_key(engine, principal_id="web-backend", scopes=["customer:act-as"])
    row = keys.load_key(engine, created.row.id)
    principal = keys.principal_for_key(created.secret, row)
    assert principal.id == "web-backend" and principal.has(Scope.ACT_AS)
    assert row is not None and row.key_hash == keys.hash_key(created.secret)
    record_access(engine, Actor(principal, Scope.ACT_AS, "cust_456"), "tkt_1", "read")
    [entry] = access_log(engine, "tkt_1")
    assert (entry["principal_id"], entry["scope"], entry["key_id"]) == (
        "web-backend",
        "customer:act-as",
        created.row.id,
    )
    keys.revoke_key(engine, created.row.id)
    with pytest.raises(keys.KeyRefused, match="revoked"):
        keys.principal_for_key(created.secret, keys.load_key(engine, created.row.id))
    assert keys.active_keys(engine) == []
