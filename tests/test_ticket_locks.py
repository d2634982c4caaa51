"""A ticket's lock holds across processes sharing a database (PostgreSQL or a SQLite file)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from sqlmodel import Session, select
from testkit import Prepared

from graph.builder import build_graph
from graph.checkpoint import open_checkpointer
from supportgraph.db.engine import make_engine
from supportgraph.db.models import CustomerMessage
from supportgraph.db.ticket_locks import TicketLocks, advisory_key
from supportgraph.support import SupportService

HOLDER = textwrap.dedent(
    """
    import sys, time
    from supportgraph.db.engine import make_engine
    from supportgraph.db.ticket_locks import TicketLocks

    locks = TicketLocks(make_engine(sys.argv[1]))
    with locks.hold(sys.argv[2]):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
    """
)


@contextmanager
def held_elsewhere(url: str, ticket_id: str, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the ticket's lock for ``seconds`` (or until it is killed)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, ticket_id, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_keys_are_stable_and_tell_tickets_apart() -> None:
    assert advisory_key("tkt_1") == advisory_key("tkt_1")
    assert len({advisory_key(f"tkt_{n}") for n in range(1000)}) == 1000
    assert all(-(2**31) <= advisory_key(f"tkt_{n}") < 2**31 for n in range(100))


def test_threads_of_one_process_take_turns_on_sqlite(tmp_path: Any) -> None:
    locks = TicketLocks(make_engine(f"sqlite:///{tmp_path / 'locks.sqlite'}"))
    inside: list[int] = []
    most = [0]

    def turn(_: int) -> None:
        with locks.hold("tkt_1"):
            inside.append(1)
            most[0] = max(most[0], len(inside))
            time.sleep(0.02)
            inside.pop()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(turn, range(8)))
    assert most[0] == 1
    assert len(locks) == 0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database two processes share: a SQLite file, or the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'locks.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


def test_a_lock_held_by_another_process_is_waited_for(shared_url: str) -> None:
    engine = make_engine(shared_url)
    locks = TicketLocks(engine)
    try:
        with held_elsewhere(shared_url, "tkt_shared", seconds=1.0):
            started = time.perf_counter()
            with locks.hold("tkt_other"):
                other_wait = time.perf_counter() - started
            started = time.perf_counter()
            with locks.hold("tkt_shared"):
                shared_wait = time.perf_counter() - started
        assert other_wait < 0.5  # another ticket is not held up
        assert shared_wait > 0.6  # the holder keeps it for a second after saying "held"
    finally:
        engine.dispose()


def test_a_process_that_dies_holding_a_lock_frees_it(shared_url: str) -> None:
    engine = make_engine(shared_url)
    locks = TicketLocks(engine)
    acquired = threading.Event()

    def wait_for_lock() -> None:
        with locks.hold("tkt_crash"):
            acquired.set()

    try:
        with held_elsewhere(shared_url, "tkt_crash", seconds=60) as holder:
            waiter = threading.Thread(target=wait_for_lock)
            waiter.start()
            assert not acquired.wait(0.5)
            holder.kill()  # no unlock: its death frees the lock (connection or file)
            assert acquired.wait(10)
            waiter.join()
    finally:
        engine.dispose()


class PausedAfterFirstStep:
    """A compiled graph whose runs pause after their first step, checkpoint already read."""

    def __init__(self, graph: Any, pause_s: float) -> None:
        self._graph = graph
        self._pause_s = pause_s

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for step, chunk in enumerate(self._graph.stream(*args, **kwargs)):
            yield chunk
            if step == 0:
                time.sleep(self._pause_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


@pytest.mark.postgres
def test_two_servers_on_one_database_take_turns_on_a_ticket(
    seeded_postgres_url: str, prepared: Prepared
) -> None:
    engines = [make_engine(seeded_postgres_url) for _ in range(2)]
    try:
        with (
            open_checkpointer(seeded_postgres_url) as first_saver,
            open_checkpointer(seeded_postgres_url) as second_saver,
        ):
            # Two servers: their own engines, checkpointer connections and in-memory locks.
            slow = SupportService(
                prepared.services.with_engine(engines[0]),
                PausedAfterFirstStep(build_graph().compile(checkpointer=first_saver), 0.8),  # type: ignore[arg-type]
            )
            fast = SupportService(
                prepared.services.with_engine(engines[1]),
                build_graph().compile(checkpointer=second_saver),
            )
            ticket = fast.handle_message(
                ticket_id=None, customer_id="cust_456", message="where is ORD-789?"
            ).ticket_id

            def send(service: SupportService, text: str, delay: float) -> int:
                time.sleep(delay)
                reply = service.handle_message(
                    ticket_id=ticket, customer_id="cust_456", message=text
                )
                return reply.turn

            with ThreadPoolExecutor(max_workers=2) as pool:
                slow_turn = pool.submit(send, slow, "is it shipped yet?", 0.0)
                fast_turn = pool.submit(send, fast, "thanks", 0.3)  # while the slow one pauses
                turns = sorted([slow_turn.result(), fast_turn.result()])
            assert turns == [2, 3]  # neither built on the other's half-finished turn
            state = fast.graph.get_state(fast.config(ticket)).values
            customer_said = [m["content"] for m in state["transcript"] if m["role"] == "customer"]
            assert sorted(customer_said[1:]) == ["is it shipped yet?", "thanks"]
        with Session(engines[0]) as session:
            stored = session.exec(
                select(CustomerMessage.turn).where(
                    CustomerMessage.ticket_id == ticket, CustomerMessage.role == "customer"
                )
            ).all()
        assert sorted(stored) == [1, 2, 3]
    finally:
        for engine in engines:
            engine.dispose()
