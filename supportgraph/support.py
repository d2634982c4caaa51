"""The support service: runs the graph for a turn and stores every record it produced."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Durability
from sqlmodel import Session, col, select

from graph.context import AgentContext
from graph.state import ActionView
from supportgraph.agents.queue import record_queue_inputs
from supportgraph.auth.audit import Actor
from supportgraph.db.engine import session_scope
from supportgraph.db.models import (
    CustomerMessage,
    EscalationDecision,
    IntentClassification,
    RetrievalContext,
    SupportTicket,
    TicketStatus,
    new_id,
    utcnow,
)
from supportgraph.db.ticket_locks import TicketLocks
from supportgraph.intents.taxonomy import SMALL_TALK
from supportgraph.knowledge_gaps import gap_records, gaps_of_turn
from supportgraph.metrics import Metrics
from supportgraph.observability import bind_ticket, tracing_callbacks
from supportgraph.replies import actions_available
from supportgraph.services import Services
from supportgraph.text import mask_card_numbers, order_ids
from supportgraph.usage import TokenMeter

# A turn is checkpointed once, when it ends. Its records are stored only after the run, so a
# run that crashes midway must leave nothing behind either: the conversation stays at the
# previous turn and the customer's retry starts the turn again (actions are made exactly once
# by their idempotency keys, not by checkpoints). Checkpointing every step as well cost a
# fifth to a third of a turn: 17-21 turns a second on one thread against 24 (p50 44-55 ms
# against 38 ms).
TURN_DURABILITY: Durability = "exit"

log = logging.getLogger(__name__)


class NotFoundError(LookupError):
    """An unknown customer or ticket (or one that belongs to someone else)."""

    metric_outcome = "not_found"


class BusyError(RuntimeError):
    """Every turn slot stayed taken for as long as a message may wait: nothing was stored."""

    metric_outcome = "busy"


def context_order(metadata: dict[str, Any] | None) -> str | None:
    """The order the page names, else the last one the earlier messages name."""
    if not metadata:
        return None
    named = order_ids(metadata.get("page_url") or "")
    if named:
        return named[0]
    for previous in reversed(metadata.get("previous_messages") or []):
        named = order_ids(previous["content"])
        if named:
            return named[-1]
    return None


def masked_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """The metadata as stored: card numbers in earlier messages masked like the message's."""
    if not metadata:
        return None
    previous = [
        {**item, "content": mask_card_numbers(item["content"])[0]}
        for item in metadata.get("previous_messages") or []
    ]
    return {**metadata, "previous_messages": previous}


class _Phases:
    """Milliseconds between marks: each phase's time since the previous mark."""

    def __init__(self, started: float) -> None:
        self._last = started
        self.ms: dict[str, float] = {}

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.ms[phase] = round((now - self._last) * 1000, 3)
        self._last = now

    def rest_of(self, phase: str, accounted_ms: float, rest: str) -> None:
        """Replace ``phase`` by what ``accounted_ms`` (timed elsewhere) leaves of it."""
        self.ms[rest] = round(max(0.0, self.ms.pop(phase) - accounted_ms), 3)


@dataclass
class TurnResult:
    """What one customer message produced."""

    ticket_id: str
    turn: int
    state: dict[str, Any]
    latency_ms: float
    node_latency_ms: dict[str, float] = field(default_factory=dict)
    # where the turn's time went outside the nodes: the wait for a slot, opening the ticket,
    # the ticket's lock, the run's end after its last node, storing the records
    phase_ms: dict[str, float] = field(default_factory=dict)
    message_id: str = ""  # the stored AI reply
    customer_message_id: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def actions_available(self) -> list[ActionView]:
        """Proposals the customer can confirm."""
        return actions_available(self.state.get("actions", []))


class _HeldSlot:
    """A turn's slot, given back while the turn only waits on the network (an LLM).

    A slot is a share of the interpreter, not a place in a conversation: a turn that waits
    for a reply holds no Python work, so the next turn runs meanwhile. Waits of one turn
    that overlap give the slot back once.
    """

    def __init__(self, slots: threading.BoundedSemaphore) -> None:
        self._slots = slots
        self._waits = 0
        self._guard = threading.Lock()

    @contextmanager
    def given_back(self) -> Iterator[None]:
        with self._guard:
            self._waits += 1
            if self._waits == 1:
                self._slots.release()
        try:
            yield
        finally:
            with self._guard:
                self._waits -= 1
                if self._waits == 0:
                    self._slots.acquire()

    def release(self) -> None:
        self._slots.release()


class SupportService:
    """Turns customer messages into graph runs and stored records."""

    def __init__(
        self,
        services: Services,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        *,
        measure_only: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        """Use these services and a graph compiled with a checkpointer.

        ``measure_only`` runs the gate without handing off (to calibrate it). ``metrics``
        counts what the service does (a registry of its own unless given).
        """
        self.services = services
        self.metrics = metrics or Metrics(services)
        self.graph = graph
        self.measure_only = measure_only
        self._ticket_locks = TicketLocks(services.engine)
        self._turn_slots = threading.BoundedSemaphore(services.settings.max_concurrent_turns)

    def config(self, ticket_id: str) -> RunnableConfig:
        """The LangGraph config of a ticket: its thread is the ticket."""
        return {"configurable": {"thread_id": ticket_id}}

    def ticket_lock(self, ticket_id: str) -> AbstractContextManager[None]:
        """The lock that serializes changes to one ticket's conversation, across processes too."""
        return self._ticket_locks.hold(ticket_id)

    def turn_wait_left(self, since: float) -> float:
        """Seconds a message that arrived at ``since`` (``perf_counter``) may still wait."""
        return max(0.0, self.services.settings.turn_wait_s - (time.perf_counter() - since))

    def busy(self) -> BusyError:
        """The refusal of a message that waited ``turn_wait_s`` for a turn."""
        return BusyError(
            f"every turn slot stayed busy for {self.services.settings.turn_wait_s:g} s"
        )

    @contextmanager
    def _turn_slot(self, since: float) -> Iterator[_HeldSlot]:
        """One of the process's turn slots, waited for at most ``turn_wait_s`` after ``since``."""
        if not self._turn_slots.acquire(timeout=self.turn_wait_left(since)):
            raise self.busy()
        held = _HeldSlot(self._turn_slots)
        try:
            yield held
        finally:
            held.release()

    def open_ticket(self, ticket_id: str | None, customer_id: str, channel: str) -> SupportTicket:
        """The customer's ticket, created when new; someone else's ticket is 'not found'."""
        if self.services.backend.get_customer(customer_id) is None:
            raise NotFoundError(f"customer {customer_id} not found")
        with session_scope(self.services.engine) as session:
            ticket = session.get(SupportTicket, ticket_id) if ticket_id else None
            if ticket is not None and ticket.customer_id != customer_id:
                raise NotFoundError(f"ticket {ticket_id} not found for customer {customer_id}")
            if ticket is None:
                ticket = SupportTicket(
                    id=ticket_id or new_id("tkt"), customer_id=customer_id, channel=channel
                )
                session.add(ticket)
            return ticket

    def handle_message(
        self,
        *,
        ticket_id: str | None,
        customer_id: str,
        message: str,
        channel: str = "web_chat",
        received_at: float | None = None,
        actor: Actor | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> TurnResult:
        """Run one turn and store the message, the decisions and the reply.

        ``received_at`` (``time.perf_counter()``) is when the message arrived, if it waited
        before this call: the wait for a turn slot and the response latency count from then.
        ``actor`` is the authenticated caller, recorded with the turn (none in-process).
        ``metadata`` is what the client said of the page and earlier messages
        (``MessageMetadata.stored``): kept with the message, its order is the focus.

        Raises:
            NotFoundError: An unknown customer, or a ticket that is not theirs.
            BusyError: No turn slot came free within ``turn_wait_s``; nothing was stored.

        """
        started = time.perf_counter() if received_at is None else received_at
        phases = _Phases(started)
        with self.metrics.message(), self._turn_slot(started) as slot:
            phases.mark("admission")
            ticket = self.open_ticket(ticket_id, customer_id, channel)
            phases.mark("open_ticket")
            bind_ticket(ticket.id)
            log.debug("customer message: %s", message)
            with (
                self.ticket_lock(ticket.id),
                self.services.llm_guard.turn(while_waiting=slot.given_back),
            ):
                phases.mark("lock")
                meter = TokenMeter()
                try:
                    state, node_ms = self._run_graph(
                        ticket.id, customer_id, message, channel, meter, context_order(metadata)
                    )
                except Exception:
                    self._store_failed_message(ticket, message, channel, actor, metadata)
                    raise
                phases.mark("graph")  # the nodes, timed one by one, and the run's own work
                phases.rest_of("graph", sum(node_ms.values()), "after_nodes")
                latency = (time.perf_counter() - started) * 1000
                customer_message_id, message_id = self._store_turn(
                    ticket, state, channel, latency, meter, actor, metadata
                )
                phases.mark("store")
            outcome = turn_outcome(state)
            self.metrics.turn(state, outcome, latency)
            log.info("turn %d: %s in %.1f ms", state["turn"], outcome, latency)
        return TurnResult(
            ticket.id,
            state["turn"],
            state,
            latency,
            node_ms,
            phases.ms,
            message_id=message_id,
            customer_message_id=customer_message_id,
            prompt_tokens=meter.prompt_tokens,
            completion_tokens=meter.completion_tokens,
        )

    def _run_graph(
        self,
        ticket_id: str,
        customer_id: str,
        message: str,
        channel: str,
        meter: TokenMeter,
        context_order_id: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, float]]:
        node_ms: dict[str, float] = {}
        values: dict[str, Any] = {}
        last = time.perf_counter()
        # The final "values" chunk is the whole state after the turn: reading it from the stream
        # saves get_state's checkpoint read (its output keys widen the narrow output schema).
        for mode, chunk in self.graph.stream(
            {
                "ticket_id": ticket_id,
                "customer_id": customer_id,
                "message": message,
                "channel": channel,
                "context_order_id": context_order_id,
            },
            {
                **self.config(ticket_id),
                "callbacks": [meter, self.metrics.callback, *tracing_callbacks()],
            },
            context=AgentContext(
                services=self.services, confirm_by_interrupt=False, measure_only=self.measure_only
            ),
            stream_mode=["updates", "values"],
            output_keys=self.graph.stream_channels_asis,
            durability=TURN_DURABILITY,
        ):
            if mode == "values":
                values = cast(dict[str, Any], chunk)
                continue
            now = time.perf_counter()
            for node in chunk:
                node_ms[node] = round((now - last) * 1000, 3)
            last = now
        return dict(values), node_ms

    def _store_failed_message(
        self,
        ticket: SupportTicket,
        message: str,
        channel: str,
        actor: Actor | None,
        metadata: dict[str, Any] | None,
    ) -> None:
        masked, _ = mask_card_numbers(message)
        with session_scope(self.services.engine) as session:
            if actor is not None:
                session.add(actor.record(ticket.id, "message"))
            turn = (session.get(SupportTicket, ticket.id) or ticket).turn_count + 1
            session.add(
                CustomerMessage(
                    ticket_id=ticket.id,
                    turn=turn,
                    role="customer",
                    content=masked,
                    channel=channel,
                    flags=["processing_error"],
                    client_metadata=masked_metadata(metadata),
                )
            )

    def _store_turn(
        self,
        ticket: SupportTicket,
        state: dict[str, Any],
        channel: str,
        latency_ms: float,
        meter: TokenMeter,
        actor: Actor | None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """Store the turn's records in one transaction; the customer's and the reply's ids."""
        turn = state["turn"]
        with session_scope(self.services.engine) as session:
            if actor is not None:
                session.add(actor.record(ticket.id, "message"))
            customer_message = CustomerMessage(
                ticket_id=ticket.id,
                turn=turn,
                role="customer",
                content=state["message"],
                channel=channel,
                flags=state.get("flags", []),
                client_metadata=masked_metadata(metadata),
            )
            session.add(customer_message)
            for index, view in enumerate(state.get("intents", [])):
                session.add(
                    IntentClassification(
                        ticket_id=ticket.id,
                        message_id=customer_message.id,
                        intent=view["intent"],
                        sub_intent=view["sub_intent"],
                        confidence=view["confidence"],
                        margin=view["margin"],
                        classifier_used=view["classifier_used"],
                        model_version=view["model_version"],
                        is_primary=index == 0,
                        latency_ms=view["latency_ms"],
                    )
                )
            self._store_retrieval(session, ticket.id, customer_message.id, state)
            self._store_gate(session, ticket.id, customer_message.id, state)
            session.add_all(gap_records(ticket.id, customer_message.id, gaps_of_turn(state)))
            reply = CustomerMessage(
                ticket_id=ticket.id,
                turn=turn,
                role="ai",
                content=state.get("response", ""),
                flags=_grounding_flags(state.get("grounding")),
                channel=channel,
                response_latency_ms=round(latency_ms, 3),
                prompt_tokens=meter.prompt_tokens if meter.calls else None,
                completion_tokens=meter.completion_tokens if meter.calls else None,
            )
            session.add(reply)
            self._update_ticket(session, ticket.id, state)
        return customer_message.id, reply.id

    @staticmethod
    def _store_retrieval(
        session: Session, ticket_id: str, message_id: str, state: dict[str, Any]
    ) -> None:
        retrieval = state.get("retrieval")
        if not retrieval:
            return
        session.add(
            RetrievalContext(
                ticket_id=ticket_id,
                message_id=message_id,
                query=retrieval["query"],
                sources=[
                    {"id": s["id"], "kind": s["kind"], "score": s["score"]}
                    for s in state.get("sources", [])
                ],
                top_score=retrieval["top_score"],
                quality=retrieval["quality"],
                context_tokens=retrieval["context_tokens"],
                latency_ms=retrieval["latency_ms"],
            )
        )

    @staticmethod
    def _store_gate(
        session: Session, ticket_id: str, message_id: str, state: dict[str, Any]
    ) -> None:
        gate = state.get("gate")
        if not gate:
            return
        session.add(
            EscalationDecision(
                ticket_id=ticket_id,
                message_id=message_id,
                escalate=gate["escalate"],
                score=gate["score"],
                threshold=gate["threshold"],
                signals=gate["signals"],
                rule_id=gate["rule_id"],
                reason=gate["reason"],
            )
        )

    def _update_ticket(self, session: Session, ticket_id: str, state: dict[str, Any]) -> None:
        ticket = session.get(SupportTicket, ticket_id)
        assert ticket is not None
        now = utcnow()
        ticket.turn_count = state["turn"]
        ticket.updated_at = now
        ticket.ab_variant = state.get("ab_variant") or ticket.ab_variant
        first = (state.get("intents") or [None])[0]
        if first and ticket.primary_intent is None and first["sub_intent"] not in SMALL_TALK:
            ticket.primary_intent = first["intent"]  # "hi there" is not what the ticket is about
        if state.get("handed_off"):
            if ticket.status not in (TicketStatus.ESCALATED, TicketStatus.ASSIGNED):
                ticket.status = TicketStatus.ESCALATED
                ticket.escalated_at = now
                ticket.escalation_reason = (state.get("gate") or {}).get("reason")
            ticket.handoff_summary = state.get("handoff")
            record_queue_inputs(session, self.services.backend, ticket)
            ticket.resolved_by = None
            ticket.resolved_at = None
        elif not _only_a_goodbye(state):
            ticket.status, ticket.resolved_by = _status_after_turn(state)
            ticket.resolved_at = now if ticket.status == TicketStatus.RESOLVED else None
        session.add(ticket)

    def ticket_messages(self, ticket_id: str) -> list[CustomerMessage]:
        """Every message of a ticket in order."""
        with Session(self.services.engine) as session:
            return list(
                session.exec(
                    select(CustomerMessage)
                    .where(CustomerMessage.ticket_id == ticket_id)
                    .order_by(col(CustomerMessage.created_at), col(CustomerMessage.turn))
                ).all()
            )


def _grounding_flags(grounding: dict[str, Any] | None) -> list[str]:
    """The record of an LLM answer replaced because it stated unsupported facts."""
    if not grounding or not grounding.get("replaced"):
        return []
    return ["ungrounded_answer_replaced"] + [f"unsupported:{f}" for f in grounding["unsupported"]]


UNRESOLVED_KINDS = frozenset({"clarify", "greeting", "no_answer", "order_not_found", "ask_address"})


def _only_a_goodbye(state: dict[str, Any]) -> bool:
    """A goodbye ("ok thanks") resolves nothing and reopens nothing."""
    return {part["kind"] for part in state.get("answer", [])} == {"closing"}


def turn_outcome(state: dict[str, Any]) -> str:
    """What a turn came to, as the ticket's status records it (or closing, or with_person)."""
    if state.get("handed_off"):
        gate = state.get("gate")
        return "escalated" if gate and gate["escalate"] else "with_person"
    if _only_a_goodbye(state):
        return "closing"
    return _status_after_turn(state)[0].value


def _status_after_turn(state: dict[str, Any]) -> tuple[TicketStatus, str | None]:
    """Open when the agent could not answer, awaiting the customer on an offer, else resolved."""
    kinds = {part["kind"] for part in state.get("answer", [])}
    if state.get("open_proposals"):
        return TicketStatus.AWAITING_CUSTOMER, None
    if not kinds or kinds <= UNRESOLVED_KINDS:
        return TicketStatus.OPEN, None
    return TicketStatus.RESOLVED, "ai"
