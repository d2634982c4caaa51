"""Settings: one typed object, safe defaults, derived locations."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from supportgraph.db.engine import normalize_url
from supportgraph.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_defaults_live_in_the_data_dir(tmp_path: Path) -> None:
    s = settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'supportgraph.sqlite'}"
    assert s.resolved_checkpoint_url == f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"
    assert s.resolved_chroma_path == tmp_path / "chroma"
    assert not s.llm_enabled


def test_postgres_database_keeps_checkpoints_beside_it(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    assert settings(data_dir=tmp_path, database_url=url).resolved_checkpoint_url == url


def test_llm_endpoint_without_model_is_refused() -> None:
    with pytest.raises(ValidationError, match="SUPPORTGRAPH_LLM_MODEL"):
        settings(llm_base_url="http://127.0.0.1:11434/v1")


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTGRAPH_HUMAN_COST_PER_TICKET_USD", "7.5")
    assert settings().human_cost_per_ticket_usd == 7.5


def test_postgres_scheme_alias_keeps_checkpoints_in_postgres(tmp_path: Path) -> None:
    url = "postgres://postgres@127.0.0.1:5432/test"
    assert normalize_url(url).startswith("postgresql+psycopg://")
    assert settings(data_dir=tmp_path, database_url=url).resolved_checkpoint_url == url


def test_network_beyond_loopback_is_blocked() -> None:
    with pytest.raises(RuntimeError, match="network access is disabled"):
        socket.create_connection(("192.0.2.10", 443), timeout=1)


def test_no_llm_settings_leak_into_tests() -> None:
    assert not any(name.startswith("SUPPORTGRAPH_LLM") for name in os.environ)
    assert "OPENAI_API_KEY" not in os.environ
    assert not settings().llm_enabled
