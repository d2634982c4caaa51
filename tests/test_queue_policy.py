"""The human queue's pure policy: priority terms, order, skills and the wait estimate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from policies.queue import (
    QueueItem,
    can_take,
    estimate_wait,
    load_queue_config,
    priority,
    rank,
)

CONFIG = load_queue_config()
W = CONFIG.weights


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (QueueItem("calm_new", 0.0, 0.0), 0.0),
        (QueueItem("furious", 1.0, 0.0), W.sentiment),
        (QueueItem("half_hour", 0.0, 30 * 60), W.waiting / 2),
        (QueueItem("hour", 0.0, 60 * 60), W.waiting),
        (QueueItem("day", 0.0, 24 * 3600), W.waiting),  # saturates
        (QueueItem("laptop", 0.0, 0.0, Decimal("1299.00")), W.order_value),
        (QueueItem("speaker", 0.0, 0.0, Decimal("250")), W.order_value / 4),
        (QueueItem("all", 1.0, 3600, Decimal("5000")), W.sentiment + W.waiting + W.order_value),
        (QueueItem("distress", 0.0, 0.0, rule_id="escalate.always.distress"), CONFIG.urgent.boost),
        (QueueItem("legal", 0.0, 0.0, rule_id="escalate.always.legal_threat"), 1.0),
        (QueueItem("billing_rule", 0.0, 0.0, rule_id="escalate.always.billing"), 0.0),
        (QueueItem("clock_skew", -0.5, -60.0, Decimal("-3")), 0.0),  # never below zero
    ],
    ids=lambda value: value.ticket_id if isinstance(value, QueueItem) else None,
)
def test_priority_terms(item: QueueItem, expected: float) -> None:
    result = priority(item, CONFIG)
    assert result.score == pytest.approx(expected, abs=1e-3)
    assert sum(result.contributions.values()) == pytest.approx(result.score, abs=1e-3)


def test_weights_are_data() -> None:
    assert set(W.model_dump()) == {"sentiment", "waiting", "order_value"}
    assert all(value > 0 for value in W.model_dump().values())


def test_rank_orders_by_priority_then_wait_then_id() -> None:
    items = [
        QueueItem("b_tie", 0.0, 600.0),
        QueueItem("a_tie", 0.0, 600.0),
        QueueItem("angry", 0.9, 60.0),
        QueueItem("old", 0.0, 3000.0),
        QueueItem("big", 0.0, 120.0, Decimal("1299")),
        QueueItem("distress", 0.0, 0.0, rule_id="escalate.always.distress"),
    ]
    order = [item.ticket_id for item, _ in rank(items, CONFIG)]
    assert order == ["distress", "angry", "old", "big", "a_tie", "b_tie"]


@pytest.mark.parametrize(
    ("skills", "intent", "expected"),
    [
        (["refund"], "refund", True),
        (["refund"], "billing", False),
        (["*"], "billing", True),
        ([], "billing", False),
        ([], None, True),  # nothing known about the subject: anyone
        ([], "human_agent", True),
        ([], "unknown", True),
    ],
)
def test_can_take(skills: list[str], intent: str | None, expected: bool) -> None:
    assert can_take(skills, intent) is expected


@pytest.mark.parametrize(
    ("ahead", "free", "capacity", "handling", "seconds", "basis"),
    [
        (0, 0, 2, [], None, "no resolved tickets"),
        (3, 0, 0, [600.0], None, "no active agent"),
        (0, 1, 2, [600.0], 0.0, "free slot"),
        (1, 2, 2, [600.0], 0.0, "free slot"),
        (0, 0, 1, [600.0, 1800.0], 1200.0, "1 ticket(s)"),
        (2, 0, 2, [1200.0], 1800.0, "3 ticket(s)"),  # 3 must finish, 2 at a time
        (3, 1, 2, [1200.0], 1800.0, "3 ticket(s)"),  # one of the four ahead gets the free slot
    ],
)
def test_estimate_wait(
    ahead: int,
    free: int,
    capacity: int,
    handling: list[float],
    seconds: float | None,
    basis: str,
) -> None:
    estimate = estimate_wait(ahead=ahead, free_slots=free, capacity=capacity, handling_s=handling)
    assert estimate.seconds == seconds
    assert basis in estimate.basis
    assert estimate.samples == (len(handling) if seconds is not None else 0)
