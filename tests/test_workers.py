"""Several server processes (`supportgraph serve --workers N`) share the stores.

On the embedded default they share the SQLite files and the local Chroma store (see
``knowledge/shared_store.py``); deployed, PostgreSQL and a Chroma server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import copy_sqlite, drop_checkpoint_tables
from testkit import SPEC_BODY, Prepared

from supportgraph.knowledge.shared_store import SNAPSHOT_FILE
from supportgraph.loadtest import (
    free_loopback_port,
    process_tree,
    resident_mb,
    served,
    worker_pids,
)


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


def connections_by_worker(parent: int, port: int) -> dict[int, int]:
    """Established connections to ``port`` each worker of ``parent`` holds (Linux /proc)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(fields[9])  # the socket's inode
    held = {}
    for pid in worker_pids(parent):
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        sockets = [link[len("socket:[") : -1] for link in links if link.startswith("socket:[")]
        count = sum(inode in established for inode in sockets)
        if count:
            held[pid] = count
    return held


def test_two_embedded_workers_share_the_conversation_of_a_ticket(
    tmp_path: Path, prepared: Prepared
) -> None:
    data_dir = tmp_path / "data"
    copy_sqlite(prepared.database, data_dir / "supportgraph.sqlite")
    # a copy: the workers leave a snapshot in the store they share, and it would stay shared
    shutil.copytree(prepared.chroma_path, data_dir / "chroma")
    env = {
        "SUPPORTGRAPH_DATA_DIR": str(data_dir),
        "SUPPORTGRAPH_INTENT_MODEL_DIR": str(prepared.intent_model_dir),
        "HF_HUB_OFFLINE": "1",
    }
    take_turns_on_one_ticket(env, restart_a_killed_worker=True)
    assert (data_dir / "chroma" / SNAPSHOT_FILE).exists()  # what the workers read


@pytest.mark.postgres
def test_two_workers_share_the_conversation_of_a_ticket(
    seeded_postgres_url: str, tmp_path: Path
) -> None:
    drop_checkpoint_tables(seeded_postgres_url)  # both workers set it up, at the same time
    with chroma_server(tmp_path / "chroma") as chroma_port:
        take_turns_on_one_ticket(
            {
                "SUPPORTGRAPH_DATA_DIR": str(tmp_path / "data"),
                "SUPPORTGRAPH_DATABASE_URL": seeded_postgres_url,
                "SUPPORTGRAPH_CHROMA_HOST": "127.0.0.1",
                "SUPPORTGRAPH_CHROMA_PORT": str(chroma_port),
                "HF_HUB_OFFLINE": "1",
            }
        )


def take_turns_on_one_ticket(env: dict[str, str], *, restart_a_killed_worker: bool = False) -> None:
    """Two workers given six messages of one ticket at once answer them one at a time.

    Connections arriving together reach both; a worker killed is replaced.
    """
    with served(env, args=["--workers", "2"]) as server:
        base, auth = server.url, server.headers
        assert server.pid is not None
        parent = server.pid
        deadline = time.monotonic() + 120
        while len(worker_pids(parent)) < 2:  # the second may still be loading
            assert time.monotonic() < deadline, "two workers did not start"
            time.sleep(0.5)
        time.sleep(1)  # both past start-up: a worker that failed it would have stopped all
        assert len(worker_pids(parent)) == 2 and os.path.exists(f"/proc/{parent}")

        first = httpx.post(
            f"{base}/v1/support/message", json=SPEC_BODY, headers=auth, timeout=60
        ).json()
        ticket = first["ticket_id"]
        texts = ["thanks", "and ORD-790?", "is it shipped", "where is it", "ok", "when"]

        def send(text: str) -> int:
            body = {"customer_id": "cust_456", "ticket_id": ticket, "message": text}
            reply = httpx.post(f"{base}/v1/support/message", json=body, headers=auth, timeout=60)
            assert reply.status_code == 200, reply.text
            return int(reply.json()["turn"])

        with ThreadPoolExecutor(max_workers=len(texts)) as pool:
            turns = sorted(pool.map(send, texts))
        assert turns == [2, 3, 4, 5, 6, 7]  # whichever process took each, one at a time
        view = httpx.get(f"{base}/v1/support/tickets/{ticket}", headers=auth, timeout=30).json()
        ai_turns = [m["turn"] for m in view["messages"] if m["role"] == "ai"]
        assert ai_turns == [1, 2, 3, 4, 5, 6, 7]
        memory = resident_mb(parent)  # what loadtest reads of a served tree: both workers
        assert memory["workers"] == 2 and memory["rss_mb"] > memory["parent_rss_mb"]
        assert len(process_tree(parent)) >= 3

        # Clients connecting together are spread over the workers: on one shared socket the
        # first worker to wake accepted every connection waiting and the other stayed idle.
        port = int(base.rsplit(":", 1)[1])
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            time.sleep(1)  # accepted meanwhile
            held = connections_by_worker(parent, port)
        finally:
            for connection in connections:
                connection.close()
        assert sum(held.values()) == len(connections) and len(held) == 2, held
        assert_keep_alive_clients_settle_evenly(parent, base, auth)

        if restart_a_killed_worker:
            killed = min(held)
            os.kill(killed, signal.SIGKILL)
            deadline = time.monotonic() + 120
            while killed in process_tree(parent) or len(worker_pids(parent)) < 2:
                assert time.monotonic() < deadline, "no worker started in place of the killed one"
                time.sleep(0.5)
            reply = httpx.post(
                f"{base}/v1/support/message", json=SPEC_BODY, headers=auth, timeout=60
            )
            assert reply.status_code == 200 and os.path.exists(f"/proc/{parent}")


def assert_keep_alive_clients_settle_evenly(parent: int, base: str, auth: dict[str, str]) -> None:
    """Sixteen keep-alive clients end up eight on each worker.

    The kernel's hash alone splits them evenly one time in five; a worker holding more than
    its share answers ``Connection: close`` until the client lands on the other.
    """
    clients = [httpx.Client(base_url=base, headers=auth, timeout=30) for _ in range(16)]
    try:
        for _ in range(60):
            answers = [client.get("/healthz") for client in clients]
            assert all(answer.status_code == 200 for answer in answers)
            if not any(answer.headers.get("connection") == "close" for answer in answers):
                break  # a round in which every client kept its connection
        held = connections_by_worker(parent, int(base.rsplit(":", 1)[1]))
        assert sorted(held.values()) == [8, 8], held
    finally:
        for client in clients:
            client.close()


FAKE_WORKERS = """
import logging, sys, time
from supportgraph import workers


def fake_worker(host, port, log_config, counts, loaded, index, ready=None, prepared=None):
    if prepared is not None:
        prepared.wait(30)
    if sys.argv[2] == "fail-start":
        time.sleep(1.0)  # a start that takes a while, then fails before the app is ready
        sys.exit(3)
    loaded[index] = 1
    if index == 0 and prepared is not None:
        sys.exit(3)  # a first worker dies at once after its start-up
    time.sleep(60)  # until stopped; a replacement is spawned and runs this again


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    workers.run_worker = fake_worker
    status = workers.serve_workers(2, "127.0.0.1", int(sys.argv[1]), {}, lambda: time.sleep(2.0))
    sys.exit(status)
"""


def fake_workers(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], Path]:
    """The worker supervisor over workers that fail as ``mode`` says; its log file."""
    script, log = tmp_path / "fake_workers.py", tmp_path / "supervisor.log"
    script.write_text(FAKE_WORKERS)
    command = [sys.executable, str(script), str(free_loopback_port()), mode]
    with log.open("w") as out:
        return subprocess.Popen(command, stderr=out, text=True), log


def test_a_worker_failing_its_start_stops_the_server_however_long_it_took(
    tmp_path: Path,
) -> None:
    """After a long preparation and a slow start, a worker not yet ready is not restarted."""
    process, log = fake_workers(tmp_path, "fail-start")
    assert process.wait(timeout=60) == 1, log.read_text()
    assert "before it was ready; stopping" in log.read_text()
    assert "starting another" not in log.read_text()


def test_a_worker_dying_after_its_start_up_is_replaced_however_soon(tmp_path: Path) -> None:
    """Ready is what the worker reports, not a time: dying just after it is not a failed start."""
    process, log = fake_workers(tmp_path, "die-when-ready")
    try:
        deadline = time.monotonic() + 60
        while "starting another" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(2.0)  # the replacement is spawned and ready meanwhile
        assert process.poll() is None, log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, log.read_text()
    assert "before it was ready" not in log.read_text()
