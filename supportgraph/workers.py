"""Several server processes on one port, each with a listening socket of its own.

Uvicorn's workers share one listening socket, and whichever process wakes first accepts every
connection then waiting: eight keep-alive clients connecting together all landed on one worker
while the other stayed idle. Here each worker listens on a socket of its own bound with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers, and the workers
start listening together, once every one has loaded its models. Each worker is a draining
server (SIGTERM: finish what is in flight, refuse the rest with 503). A worker that dies is
started again; one that dies within ``MIN_WORKER_LIFE_S`` of its start stops the server.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.synchronize import Barrier
from typing import Any

log = logging.getLogger(__name__)

READY_WAIT_S = 300.0  # for every worker to load its models before they listen together
MIN_WORKER_LIFE_S = 10.0
SUPERVISE_EVERY_S = 0.5


def port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that other sockets with ``SO_REUSEPORT`` may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_worker(host: str, port: int, log_config: dict[str, Any], ready: Barrier | None) -> None:
    """One worker process: the app, serving on its own socket once every worker is ready."""
    import uvicorn

    from server import create_app
    from supportgraph.draining import DrainingServer
    from supportgraph.observability import configure_logging
    from supportgraph.settings import get_settings

    settings = get_settings()
    configure_logging(logging.INFO, settings.log_format)
    app = create_app(settings, on_ready=(lambda: ready.wait(READY_WAIT_S)) if ready else None)
    config = uvicorn.Config(app, log_level="info", log_config=log_config)
    DrainingServer(config, app.state.drain, settings.shutdown_grace_s).run(
        sockets=[port_socket(host, port)]
    )


def serve_workers(count: int, host: str, port: int, log_config: dict[str, Any]) -> int:
    """Run ``count`` workers on ``host:port`` until SIGTERM or SIGINT; the exit status."""
    held = port_socket(host, port)  # fails here, at once, if the port is taken; never listens
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(count)

    def start(barrier: Barrier | None) -> tuple[Any, float]:
        process = context.Process(
            target=run_worker, args=(host, port, log_config, barrier), daemon=False
        )
        process.start()
        return process, time.monotonic()

    workers = [start(ready) for _ in range(count)]
    stopping: list[int] = []

    def stop(sig: int, _frame: Any) -> None:
        """Each worker drains and stops (SIGTERM), and workers still loading stop waiting."""
        stopping.append(sig)
        ready.abort()
        for process, _ in workers:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    try:
        while not stopping:
            for index, (process, started) in enumerate(workers):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < MIN_WORKER_LIFE_S:
                    log.error(
                        "worker %s exited with %s at start; stopping", process.pid, process.exitcode
                    )
                    stop(signal.SIGTERM, None)
                    status = 1
                    break
                log.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                workers[index] = start(None)
            time.sleep(SUPERVISE_EVERY_S)
        for process, _ in workers:
            process.join()
    finally:
        held.close()
    return status
