"""The HTTP API under load: customer messages arrive at a stated rate, as in production.

The arrival process is open-loop: a message is sent when its time comes whether or not earlier
ones have been answered, so a server that cannot keep up shows it as growing latency (what a
customer waits) instead of quietly slowing the test down. Each arrival continues a
conversation that is waiting for its next message, or opens a new ticket; a conversation is
one to three messages (a request, then "yes" to a proposed action or a second request).
After the run every ticket is read back to check that each message sent was stored with
the agent's reply: nothing may be lost under load.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from supportgraph.intents.metrics import percentile
from supportgraph.intents.model import HOLDOUT_FILE, read_labelled_csv

# From the product spec: the first response to a message within 5 s for 95% of messages, at
# 1,200 messages a minute at peak.
P95_TARGET_MS = 5000.0
PEAK_RATE_PER_S = 20.0
CLOSINGS = ("thanks", "ok thank you", "great, that's all")
DRAIN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class LoadPlan:
    """What to send: message rates per stage, for how long, and to whom."""

    rates: tuple[float, ...] = (PEAK_RATE_PER_S,)
    stage_seconds: float = 30.0
    customers: tuple[str, ...] = tuple(f"cust_{2000 + i}" for i in range(200))
    timeout_s: float = 30.0
    # Messages waiting for an answer beyond this many are not sent and counted as shed: a
    # bound on what the test itself holds open against a server that stopped answering.
    max_in_flight: int = 500
    seed: int = 7
    # Closed loop instead of rates: this many clients, each sending its next message as soon
    # as the last was answered, for one stage of ``stage_seconds`` (0: the rates above).
    clients: int = 0
    # Every message opens a ticket of its own, instead of conversations of one to three.
    new_tickets: bool = False


@dataclass
class Conversation:
    """One ticket's messages, sent one at a time."""

    customer_id: str
    first: str
    second: str
    length: int
    ticket_id: str | None = None
    sent: int = 0
    answered: int = 0
    last_reply: dict[str, Any] | None = None


@dataclass
class StageResult:
    """What one stage measured."""

    offered_rate: float
    seconds: float
    sent: int = 0
    shed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    clients: int | None = None

    def summary(self) -> dict[str, Any]:
        """The stage's figures; ``meets_target`` reads the spec's P95 with no failures."""
        answered = self.statuses.get("200", 0)
        p95 = percentile(self.latencies_ms, 95)
        offered = (
            {"clients": self.clients} if self.clients else {"offered_per_s": self.offered_rate}
        )
        return {
            **offered,
            "answered_per_s": round(answered / self.seconds, 2),
            "answered_per_min": round(answered / self.seconds * 60),
            "sent": self.sent,
            "answered": answered,
            "shed": self.shed,
            "statuses": dict(self.statuses),
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p95_ms": round(p95, 1),
            "p99_ms": round(percentile(self.latencies_ms, 99), 1),
            "max_ms": round(max(self.latencies_ms, default=0.0), 1),
            "server_p50_ms": round(percentile(self.server_ms, 50), 1),
            "server_p95_ms": round(percentile(self.server_ms, 95), 1),
            "meets_target": bool(answered == self.sent and self.shed == 0 and p95 < P95_TARGET_MS),
        }


class LoadRun:
    """Drives one base URL through the plan's stages."""

    def __init__(
        self,
        base_url: str,
        plan: LoadPlan,
        messages: Sequence[str],
        api_key: str | None,
        server_pid: int | None = None,
    ) -> None:
        """Send to ``base_url`` with ``api_key`` (customer:act-as), drawing from ``messages``.

        With the server's ``server_pid`` the report gives its CPU per answered message.
        """
        self.server_pid = server_pid
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.plan = plan
        self.messages = list(messages)
        self.rng = random.Random(plan.seed)
        self.conversations: list[Conversation] = []
        self.waiting: deque[Conversation] = deque()

    def _next_conversation(self) -> Conversation:
        if self.waiting:
            return self.waiting.popleft()
        conversation = Conversation(
            customer_id=self.rng.choice(self.plan.customers),
            first=self.rng.choice(self.messages),
            second=self.rng.choice(self.messages),
            length=1 if self.plan.new_tickets else self.rng.choice((1, 2, 2, 3)),
        )
        self.conversations.append(conversation)
        return conversation

    def _text(self, conversation: Conversation) -> str:
        if conversation.sent == 0:
            return conversation.first
        if conversation.last_reply and conversation.last_reply.get("actions_available"):
            return "yes"
        if conversation.sent == 1:
            return conversation.second
        return self.rng.choice(CLOSINGS)

    async def _send(
        self,
        client: httpx.AsyncClient,
        conversation: Conversation,
        stage: StageResult,
    ) -> None:
        body = {
            "customer_id": conversation.customer_id,
            "ticket_id": conversation.ticket_id or "new",
            "message": self._text(conversation),
            "channel": "web_chat",
        }
        started = time.perf_counter()
        answer: dict[str, Any] | None = None
        try:
            response = await client.post("/v1/support/message", json=body)
            status = str(response.status_code)
            if response.status_code == 200:
                answer = response.json()
        except httpx.TimeoutException:
            status = "timeout"
        except httpx.TransportError as exc:
            status = type(exc).__name__
        stage.statuses[status] += 1
        conversation.sent += 1
        if answer is None:
            return  # a failed conversation is not continued
        stage.latencies_ms.append((time.perf_counter() - started) * 1000)
        stage.server_ms.append(float(answer["response_latency_ms"]))
        conversation.ticket_id = answer["ticket_id"]
        conversation.answered += 1
        conversation.last_reply = answer
        if conversation.sent < conversation.length:
            self.waiting.append(conversation)

    async def _stage(self, client: httpx.AsyncClient, rate: float) -> StageResult:
        stage = StageResult(offered_rate=rate, seconds=self.plan.stage_seconds)
        tasks: set[asyncio.Task[None]] = set()
        interval = 1.0 / rate
        loop = asyncio.get_running_loop()
        start = loop.time()
        arrivals = int(rate * self.plan.stage_seconds)
        for index in range(arrivals):
            delay = start + index * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= self.plan.max_in_flight:
                stage.shed += 1
                continue
            stage.sent += 1
            task = asyncio.create_task(self._send(client, self._next_conversation(), stage))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
        return stage

    async def _closed_loop(self, client: httpx.AsyncClient, clients: int) -> StageResult:
        """``clients`` senders, each sending its next message once the last was answered."""
        stage = StageResult(offered_rate=0.0, seconds=self.plan.stage_seconds, clients=clients)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.plan.stage_seconds

        async def sender() -> None:
            while loop.time() < deadline:
                stage.sent += 1
                await self._send(client, self._next_conversation(), stage)

        await asyncio.gather(*(sender() for _ in range(clients)))
        stage.seconds = loop.time() - started  # the last answers arrive after the deadline
        return stage

    async def run(self) -> dict[str, Any]:
        """Every stage in turn, then the stored-records check; the report as a dict."""
        limits = httpx.Limits(max_connections=self.plan.max_in_flight)
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=self.plan.timeout_s, limits=limits, headers=self.headers
        ) as client:
            cpu_before = cpu_seconds(self.server_pid) if self.server_pid else None
            if self.plan.clients:
                stages = [await self._closed_loop(client, self.plan.clients)]
            else:
                stages = [await self._stage(client, rate) for rate in self.plan.rates]
            cpu_after = cpu_seconds(self.server_pid) if self.server_pid else None
            lost = await self._lost_messages(client)
        report: dict[str, Any] = {
            "cores": os.cpu_count(),
            "stages": [stage.summary() for stage in stages],
            "tickets": sum(1 for c in self.conversations if c.ticket_id),
            "messages_not_stored": lost,
        }
        answered = sum(len(stage.latencies_ms) for stage in stages)
        if cpu_before is not None and cpu_after is not None and answered:
            # over the stages only: the read-back check after them is not a customer's message
            report["server_cpu_ms_per_message"] = round(
                (cpu_after - cpu_before) * 1000 / answered, 2
            )
        return report

    async def _lost_messages(self, client: httpx.AsyncClient) -> int:
        """Answered messages missing from their stored tickets (customer message + reply).

        A server that fell behind is still working through messages whose senders gave up, so
        each read may wait as long as the server needs for that.
        """
        lost = 0
        for conversation in self.conversations:
            if conversation.ticket_id is None:
                continue
            response = await client.get(
                f"/v1/support/tickets/{conversation.ticket_id}", timeout=DRAIN_TIMEOUT_S
            )
            response.raise_for_status()
            by_role = Counter(message["role"] for message in response.json()["messages"])
            expected = conversation.answered
            lost += max(0, expected - by_role["customer"]) + max(0, expected - by_role["ai"])
        return lost


# Tier-1 requests: order status, refunds, password resets, help-centre questions, invoices.
TIER1 = frozenset({"order_status", "refund", "password_reset", "faq", "billing:invoice"})


def default_messages(*, tier1: bool = False) -> list[str]:
    """First requests for the simulated customers: held-out utterances of every intent.

    With ``tier1``, only those of the tier-1 intents (``TIER1``, by intent or sub-intent).
    """
    return [
        row.text
        for row in read_labelled_csv(HOLDOUT_FILE)
        if row.intents[0] != "unknown"
        and (not tier1 or {row.intents[0], f"{row.intents[0]}:{row.sub_intent}"} & TIER1)
    ]


def run_load(
    base_url: str,
    plan: LoadPlan,
    messages: Sequence[str] | None = None,
    *,
    api_key: str | None = None,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """Run the plan against a server at ``base_url``; the report as a dict.

    ``api_key`` needs scope ``customer:act-as`` (to speak for the simulated customers) and
    lets the run read the tickets back to check what was stored. With the server's
    ``server_pid`` (Linux) the report gives its CPU per answered message.
    """
    run = LoadRun(base_url, plan, messages or default_messages(), api_key, server_pid)
    return asyncio.run(run.run())


def free_loopback_port() -> int:
    """A port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """A server this process started: its URL and the development key it wrote, if any."""

    url: str
    api_key: str | None
    pid: int | None = None  # the server process, when this process started it
    ready_s: float | None = None  # from its start until it answered /healthz

    @property
    def headers(self) -> dict[str, str]:
        """Request headers that sign in with the development key."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@contextmanager
def served(
    env: dict[str, str] | None = None,
    start_timeout_s: float = 180.0,
    args: Sequence[str] = (),
) -> Iterator[Served]:
    """``supportgraph serve [args]`` in a child process on a free loopback port."""
    port = free_loopback_port()
    child_env = {**os.environ, **(env or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "supportgraph.cli", "serve", "--port", str(port), *args],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        spawned = time.monotonic()
        deadline = spawned + start_timeout_s
        while not _healthy(base):
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with status {server.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.1)
        ready_s = round(time.monotonic() - spawned, 2)
        yield Served(base, _development_key(child_env), server.pid, ready_s)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still finishing requests nobody waits for
            server.kill()
            server.wait()


def process_tree(pid: int) -> list[int]:
    """A process and its descendants, e.g. a server and its workers (Linux ``/proc``)."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        waiting.extend(_children(current))
    return found


def _children(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []  # gone meanwhile
    return [int(child) for child in children.split()]


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU a process and its live descendants used (Linux ``/proc``).

    None when the process cannot be read (elsewhere than Linux, or gone).
    """
    total = None
    for member in process_tree(pid):
        try:
            fields = open(f"/proc/{member}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except OSError:
            continue
        total = (total or 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def resident_mb(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak in MB, of the process and of its largest worker.

    With workers, ``rss_mb``/``peak_rss_mb`` are the largest worker's and ``parent_rss_mb``
    the parent's (Linux ``/proc``; {} elsewhere).
    """
    parent = _memory(pid)
    workers = [_memory(worker) for worker in worker_pids(pid)]
    if not any(workers):
        return parent
    largest = max(workers, key=lambda reading: reading.get("peak_rss_mb", 0.0))
    return {**largest, "parent_rss_mb": parent.get("rss_mb", 0.0), "workers": len(workers)}


def worker_pids(pid: int) -> list[int]:
    """The live worker processes of a server: its children, less multiprocessing's tracker."""
    workers = []
    for child in _children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if b"resource_tracker" not in command:
            workers.append(child)
    return workers


def _memory(pid: int) -> dict[str, float]:
    try:
        lines = open(f"/proc/{pid}/status").read().splitlines()  # noqa: SIM115
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    wanted = {"VmRSS": "rss_mb", "VmHWM": "peak_rss_mb"}
    return {
        name: round(int(fields[key].split()[0]) / 1024, 1)  # reported in kB
        for key, name in wanted.items()
        if key in fields
    }


def _development_key(env: dict[str, str]) -> str | None:
    """The development key a server over this environment's data directory wrote."""
    from supportgraph.auth.development import development_key_path
    from supportgraph.settings import Settings

    data_dir = env.get("SUPPORTGRAPH_DATA_DIR")
    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    path = development_key_path(settings)
    return path.read_text().strip() if path.exists() else None


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
