"""`supportgraph serve` (what `make run` starts) serves the agent over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import copy_sqlite
from testkit import SPEC_BODY, Prepared


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_the_spec_example(tmp_path: Path, prepared: Prepared) -> None:
    data_dir = tmp_path / "data"
    copy_sqlite(prepared.database, data_dir / "supportgraph.sqlite")
    port = _free_port()
    env = {
        **os.environ,
        "SUPPORTGRAPH_DATA_DIR": str(data_dir),
        "SUPPORTGRAPH_CHROMA_PATH": str(prepared.chroma_path),
        "HF_HUB_OFFLINE": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "supportgraph.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "the server exited"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(0.5)
        reply = httpx.post(f"{base}/v1/support/message", json=SPEC_BODY, timeout=30).json()
        assert {"order_status", "refund"} <= {i["intent"] for i in reply["intents"]}
        assert "ORD-789" in reply["response"]
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
