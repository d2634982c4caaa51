"""Several server processes on one port, each with a listening socket of its own.

Uvicorn's workers share one listening socket, and whichever process wakes first accepts every
connection then waiting: eight keep-alive clients connecting together all landed on one worker
while the other stayed idle. Here each worker listens on a socket of its own bound with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers, and the workers
start listening together, once every one has loaded its models. Each worker is a draining
server (SIGTERM: finish what is in flight, refuse the rest with 503). Each reports to the parent
when it has loaded: a worker that dies after that is started again; one that dies before it
failed its start, which a new one would fail too, and stops the server.

The kernel hashes each new connection to one of the sockets, so a few keep-alive clients can
split unevenly: eight split 8/0 in one load test, 5/3 and 4/4 in others (2,042, 2,984 and
3,715 messages a minute, minutes apart). Each worker publishes how many connections it holds,
and one holding more than its share answers ``Connection: close`` (``FairShare``): the
client's next connection is hashed again, and the split settles within a few requests.

The first workers are forked as soon as the parent has imported the application, before it
prepares the data directory, and wait for that preparation before they build their apps: they
skip their own imports (about 4 s each on two cores) and share the parent's imported pages.
The parent has started no thread of its own by then (only the idle native pools of numpy and
ONNX Runtime, which a fork does not copy). A worker started later, to replace a dead one, is
spawned: the prepared parent holds threads and open files that a fork would copy.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier, Event
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

READY_WAIT_S = 300.0  # for every worker to load its models before they listen together
SUPERVISE_EVERY_S = 0.5


def port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that other sockets with ``SO_REUSEPORT`` may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class FairShare:
    """Asks a client to reconnect while this worker holds more than its share of connections."""

    def __init__(self, app: ASGIApp, counts: Any, index: int) -> None:
        """Wrap ``app`` of worker ``index``; ``counts`` holds every worker's connections."""
        self.app = app
        self.counts = counts
        self.index = index
        self.connections: set[Any] = set()  # the server's open connections, once it exists

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sent(message: Message) -> None:
            if message["type"] == "http.response.start" and self.over_share():
                message = {**message, "headers": [*message["headers"], (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, sent)

    def over_share(self) -> bool:
        """Whether this worker holds more connections than an even split would give it."""
        mine = self.counts[self.index] = len(self.connections)
        return bool(mine > -(-sum(self.counts) // len(self.counts)))


def run_worker(
    host: str,
    port: int,
    log_config: dict[str, Any],
    counts: Any,
    loaded: Any,
    index: int,
    ready: Barrier | None,
    prepared: Event | None = None,
) -> None:
    """One worker process: the app, serving on its own socket once every worker is ready.

    A worker forked before the data directory was prepared waits for ``prepared`` first. Its
    app sets ``loaded[index]`` when its start-up is done, before it waits for the others.
    """
    if prepared is not None and not prepared.wait(READY_WAIT_S):
        return
    import uvicorn

    from server import create_app
    from supportgraph.draining import DrainingServer
    from supportgraph.observability import configure_logging
    from supportgraph.settings import get_settings

    settings = get_settings()
    configure_logging(logging.INFO, settings.log_format)

    def on_ready() -> None:
        loaded[index] = 1
        if ready is not None:
            ready.wait(READY_WAIT_S)

    app = create_app(settings, on_ready=on_ready)
    shared = FairShare(app, counts, index)
    config = uvicorn.Config(shared, log_level="info", log_config=log_config)
    server = DrainingServer(config, app.state.drain, settings.shutdown_grace_s)
    shared.connections = server.server_state.connections
    server.run(sockets=[port_socket(host, port)])


def serve_workers(
    count: int,
    host: str,
    port: int,
    log_config: dict[str, Any],
    prepare: Callable[[], None],
) -> int:
    """Run ``count`` workers on ``host:port`` until SIGTERM or SIGINT; the exit status.

    ``prepare()`` readies the data directory while the first workers start; if it raises,
    they are stopped and the error goes on.
    """
    held = port_socket(host, port)  # fails here, at once, if the port is taken; never listens
    forked, spawned = multiprocessing.get_context("fork"), multiprocessing.get_context("spawn")
    ready, prepared = forked.Barrier(count), forked.Event()
    connections = forked.Array("i", count, lock=False)  # how many each worker holds
    loaded = forked.Array("b", count, lock=False)  # which workers finished their start-up

    def start(context: Any, index: int, *waits: Any) -> Any:
        connections[index] = loaded[index] = 0
        process = context.Process(
            target=run_worker,
            args=(host, port, log_config, connections, loaded, index, *waits),
            daemon=False,
        )
        process.start()
        return process

    workers = [start(forked, index, ready, prepared) for index in range(count)]
    stopping: list[int] = []

    def stop(sig: int, _frame: Any) -> None:
        """Each worker drains and stops (SIGTERM), and workers still loading stop waiting."""
        stopping.append(sig)
        ready.abort()
        for process in workers:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    try:
        try:
            prepare()
        except BaseException:
            stop(signal.SIGTERM, None)
            raise
        prepared.set()
        while not stopping:
            for index, process in enumerate(workers):
                if process.is_alive() or stopping:
                    continue
                if not loaded[index]:
                    log.error(
                        "worker %s exited with %s before it was ready; stopping",
                        process.pid,
                        process.exitcode,
                    )
                    stop(signal.SIGTERM, None)
                    status = 1
                    break
                log.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                workers[index] = start(spawned, index, None)
            time.sleep(SUPERVISE_EVERY_S)
        for process in workers:
            process.join()
    finally:
        held.close()
    return status
