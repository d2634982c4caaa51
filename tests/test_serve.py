"""`supportgraph serve` (what `make run` starts) serves the agent over HTTP, also under load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import copy_sqlite
from testkit import SPEC_BODY, Prepared

from supportgraph.loadtest import (
    LoadPlan,
    Served,
    default_messages,
    resident_mb,
    run_load,
    served,
)


@pytest.fixture
def server(tmp_path: Path, prepared: Prepared) -> Iterator[Served]:
    """The base URL of a child ``supportgraph serve`` over a copy of the prepared data."""
    data_dir = tmp_path / "data"
    copy_sqlite(prepared.database, data_dir / "supportgraph.sqlite")
    env = {
        "SUPPORTGRAPH_DATA_DIR": str(data_dir),
        "SUPPORTGRAPH_CHROMA_PATH": str(prepared.chroma_path),
        "SUPPORTGRAPH_INTENT_MODEL_DIR": str(prepared.intent_model_dir),
        "HF_HUB_OFFLINE": "1",
    }
    with served(env) as base:
        yield base


def test_serve_answers_the_spec_example(server: Served) -> None:
    url = f"{server.url}/v1/support/message"
    assert server.api_key is not None  # the development key, made on first start
    reply = httpx.post(url, json=SPEC_BODY, headers=server.headers, timeout=30).json()
    assert {"order_status", "refund"} <= {i["intent"] for i in reply["intents"]}
    assert "ORD-789" in reply["response"]
    assert httpx.get(f"{server.url}/docs", timeout=5).status_code == 200
    assert httpx.post(url, json=SPEC_BODY, timeout=30).status_code == 401


def test_messages_arriving_together_are_all_answered_and_stored(server: Served) -> None:
    # 24 messages in 2 s, conversations of up to three turns, some confirming actions.
    plan = LoadPlan(rates=(12.0,), stage_seconds=2.0, timeout_s=60.0)
    report = run_load(server.url, plan, api_key=server.api_key)
    (stage,) = report["stages"]
    assert stage["sent"] == 24
    assert stage["statuses"] == {"200": 24}
    assert stage["shed"] == 0
    assert report["tickets"] >= 8  # most conversations are one or two messages
    assert report["messages_not_stored"] == 0


def test_closed_loop_clients_send_as_fast_as_they_are_answered(server: Served) -> None:
    """The issue's workload: closed-loop clients, each message a new tier-1 ticket."""
    tier1 = default_messages(tier1=True)
    assert 40 < len(tier1) < len(default_messages())
    plan = LoadPlan(clients=2, stage_seconds=2.0, timeout_s=60.0, new_tickets=True)
    report = run_load(server.url, plan, tier1, api_key=server.api_key, server_pid=server.pid)
    (stage,) = report["stages"]
    assert stage["clients"] == 2 and "offered_per_s" not in stage
    assert 0 < report["server_cpu_ms_per_message"] < 5000
    assert stage["answered"] == stage["sent"] >= 4  # each client sends again at once
    assert report["tickets"] == stage["answered"]  # one message, one ticket
    assert stage["statuses"] == {"200": stage["sent"]}
    assert report["cores"] >= 1
    assert report["messages_not_stored"] == 0
    assert server.ready_s is not None and 0 < server.ready_s < 180
    assert server.pid is not None
    memory = resident_mb(server.pid)
    assert 100 < memory["rss_mb"] <= memory["peak_rss_mb"]  # the encoder and models are loaded
