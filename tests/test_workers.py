"""Several server processes (`supportgraph serve --workers N`) share PostgreSQL and Chroma."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import drop_checkpoint_tables
from testkit import SPEC_BODY
from typer.testing import CliRunner

from supportgraph.cli import app
from supportgraph.loadtest import free_loopback_port, served
from supportgraph.settings import Settings, get_settings


def test_only_shared_stores_let_several_processes_serve() -> None:
    alone = Settings(data_dir=Path("var"))
    assert [store.split(" (")[0] for store in alone.unshared_stores()] == [
        "the database",
        "the checkpoints",
        "the knowledge index",
    ]
    postgres = "postgresql://app@db:5432/support"
    assert len(Settings(database_url=postgres).unshared_stores()) == 1  # Chroma still local
    assert Settings(database_url=postgres, chroma_host="chroma").unshared_stores() == []
    split = Settings(
        database_url=postgres, checkpoint_url="sqlite:///var/ckpt.sqlite", chroma_host="chroma"
    )
    assert [store.split(" (")[0] for store in split.unshared_stores()] == ["the checkpoints"]


def test_several_workers_over_local_stores_are_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORTGRAPH_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    said = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert result.exit_code == 2
    assert "several processes cannot share the database" in said
    assert "the knowledge index (set SUPPORTGRAPH_CHROMA_HOST to a Chroma server)" in said
    assert list(tmp_path.iterdir()) == []  # nothing was seeded or created


@contextmanager
def chroma_server(path: Path) -> Iterator[int]:
    """A Chroma server (the `chroma` command chromadb installs) on a free loopback port."""
    port = free_loopback_port()
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the Chroma server did not start"
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def worker_processes(parent: int) -> int:
    """Live worker processes uvicorn started under ``parent`` (Linux /proc)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        count += ppid == parent and b"spawn_main" in command
    return count


def server_pid(port: int) -> int:
    """The process listening on ``port`` started by this test (the uvicorn parent)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in command and str(port).encode() in command:
                return int(entry.name)
    raise AssertionError("no server process")


@pytest.mark.postgres
def test_two_workers_share_the_conversation_of_a_ticket(
    seeded_postgres_url: str, tmp_path: Path
) -> None:
    drop_checkpoint_tables(seeded_postgres_url)  # both workers set it up, at the same time
    with chroma_server(tmp_path / "chroma") as chroma_port:
        env = {
            "SUPPORTGRAPH_DATA_DIR": str(tmp_path / "data"),
            "SUPPORTGRAPH_DATABASE_URL": seeded_postgres_url,
            "SUPPORTGRAPH_CHROMA_HOST": "127.0.0.1",
            "SUPPORTGRAPH_CHROMA_PORT": str(chroma_port),
            "HF_HUB_OFFLINE": "1",
        }
        with served(env, args=["--workers", "2"]) as server:
            base, auth = server.url, server.headers
            parent = server_pid(int(base.rsplit(":", 1)[1]))
            deadline = time.monotonic() + 120
            while worker_processes(parent) < 2:  # the second may still be loading
                assert time.monotonic() < deadline, "two workers did not start"
                time.sleep(0.5)
            time.sleep(1)  # both past start-up: a worker that failed it would have stopped all
            assert worker_processes(parent) == 2 and os.path.exists(f"/proc/{parent}")

            first = httpx.post(
                f"{base}/v1/support/message", json=SPEC_BODY, headers=auth, timeout=60
            ).json()
            ticket = first["ticket_id"]
            texts = ["thanks", "and ORD-790?", "is it shipped", "where is it", "ok", "when"]

            def send(text: str) -> int:
                body = {"customer_id": "cust_456", "ticket_id": ticket, "message": text}
                reply = httpx.post(
                    f"{base}/v1/support/message", json=body, headers=auth, timeout=60
                )
                assert reply.status_code == 200, reply.text
                return int(reply.json()["turn"])

            with ThreadPoolExecutor(max_workers=len(texts)) as pool:
                turns = sorted(pool.map(send, texts))
            assert turns == [2, 3, 4, 5, 6, 7]  # whichever process took each, one at a time
            view = httpx.get(f"{base}/v1/support/tickets/{ticket}", headers=auth, timeout=30).json()
            ai_turns = [m["turn"] for m in view["messages"] if m["role"] == "ai"]
            assert ai_turns == [1, 2, 3, 4, 5, 6, 7]
