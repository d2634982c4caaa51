"""Stopping and restarting `supportgraph serve` under load loses and doubles no message.

The first SIGTERM drains: turns in flight finish, new requests get 503, then the server
exits. A client that got 200 must find its message stored exactly once, with its reply,
after a restart on the same data directory; one that got 503 must find nothing stored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import copy_sqlite
from sqlmodel import Session, select
from testkit import Prepared

from supportgraph.db.engine import make_engine
from supportgraph.db.models import CustomerMessage
from supportgraph.loadtest import free_loopback_port

CLIENTS = 4


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """``supportgraph serve`` on ``port``, returned once it answers ``/healthz``."""
    child = subprocess.Popen(
        [sys.executable, "-m", "supportgraph.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return child
        except httpx.TransportError:
            pass
        assert child.poll() is None, f"the server exited with {child.returncode}"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.3)


@pytest.fixture
def env(tmp_path: Path, prepared: Prepared) -> Iterator[dict[str, str]]:
    data_dir = tmp_path / "data"
    copy_sqlite(prepared.database, data_dir / "supportgraph.sqlite")
    yield {
        "SUPPORTGRAPH_DATA_DIR": str(data_dir),
        "SUPPORTGRAPH_CHROMA_PATH": str(prepared.chroma_path),
        "SUPPORTGRAPH_INTENT_MODEL_DIR": str(prepared.intent_model_dir),
        "HF_HUB_OFFLINE": "1",
    }


class Load:
    """Closed-loop clients sending new tickets, each message unique, one connection each."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.outcomes: dict[str, str] = {}  # message -> "200", "503", "refused", "dropped"
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def count(self, outcome: str) -> int:
        with self._lock:
            return sum(1 for seen in self.outcomes.values() if seen == outcome)

    def _client(self, number: int) -> None:
        sent = 0
        while not self.stop.is_set():
            sent += 1
            text = f"Where is my order ORD-789? (client {number}, message {sent})"
            try:
                response = httpx.post(
                    f"{self.url}/v1/support/message",
                    json={"customer_id": "cust_456", "message": text},
                    headers=self.headers,
                    timeout=60,
                )
                outcome = str(response.status_code)
            except httpx.ConnectError:
                outcome = "refused"
            except httpx.TransportError:
                outcome = "dropped"
            with self._lock:
                self.outcomes[text] = outcome
            if outcome != "200":
                time.sleep(0.1)


def test_a_restart_under_load_loses_and_doubles_no_accepted_message(
    env: dict[str, str],
) -> None:
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    first = start(env, port)
    api_key = (Path(env["SUPPORTGRAPH_DATA_DIR"]) / "dev-api-key").read_text().strip()
    second = None
    try:
        with Load(url, api_key) as load:
            while load.count("200") < 10:
                time.sleep(0.1)
            stopped_at = time.monotonic()
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=60) == 0
            drained_s = time.monotonic() - stopped_at
            before_restart = load.count("200")
            second = start(env, port)
            while load.count("200") < before_restart + 10:
                time.sleep(0.1)
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.terminate()
                child.wait(timeout=60)

    outcomes = dict(load.outcomes)
    assert drained_s < 30
    assert set(outcomes.values()) <= {"200", "503", "refused", "dropped"}
    engine = make_engine(f"sqlite:///{Path(env['SUPPORTGRAPH_DATA_DIR']) / 'supportgraph.sqlite'}")
    with Session(engine) as session:
        stored = session.exec(
            select(CustomerMessage).where(CustomerMessage.role == "customer")
        ).all()
        replied = {
            m.ticket_id
            for m in session.exec(select(CustomerMessage).where(CustomerMessage.role == "ai")).all()
        }
    engine.dispose()
    copies = Counter(m.content for m in stored if m.content in outcomes)
    answered = [text for text, outcome in outcomes.items() if outcome == "200"]
    assert len(answered) >= 20
    assert [text for text in answered if copies[text] != 1] == []  # none lost, none doubled
    assert all(m.ticket_id in replied for m in stored if outcomes.get(m.content) == "200")
    refused_503 = [text for text, outcome in outcomes.items() if outcome == "503"]
    assert [text for text in refused_503 if copies[text]] == []  # a 503 stored nothing
    assert max(copies.values()) == 1
