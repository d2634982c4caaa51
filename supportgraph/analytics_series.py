"""Pure helpers of the analytics: percentiles, shares, counts and the days of a window.

No I/O: ``supportgraph.analytics`` loads the rows and calls these over their values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

CASCADE_TIERS = ("rules", "embedding", "llm", "fallback")
UNRECORDED = "unrecorded"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation (numpy's default); None for none.

    For 100, 200, 300, 400 the 50th is 250.0 and the 95th is 385.0 (at rank 0.95 x 3 = 2.85).
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 3)


def latency_percentiles(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    """The median and 95th percentile of some AI reply latencies."""
    return {
        "latency_p50_ms": percentile(latencies_ms, 50),
        "latency_p95_ms": percentile(latencies_ms, 95),
    }


def tier_shares(tiers: Iterable[str]) -> list[dict[str, Any]]:
    """How many classifications each cascade tier made, and its share (None without any).

    The four tiers come in cascade order, with zeros, then any other name seen, by name.
    """
    counts = Counter(tiers)
    total = sum(counts.values())
    names = [*CASCADE_TIERS, *sorted(set(counts) - set(CASCADE_TIERS))]
    return [
        {
            "tier": name,
            "count": counts[name],
            "share": round(counts[name] / total, 4) if total else None,
        }
        for name in names
    ]


def escalation_reasons(rule_ids: Iterable[str | None]) -> list[dict[str, Any]]:
    """Escalated tickets per rule that sent them, most first, ties by name.

    A ticket with no escalating decision stored counts as ``unrecorded``.
    """
    counts = Counter(rule or UNRECORDED for rule in rule_ids)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"rule_id": rule, "count": count} for rule, count in ranked]


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of a stored time (a naive one is UTC already)."""
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def utc_days(start: datetime, end: datetime) -> list[date]:
    """Every UTC day that ``[start, end)`` touches, in order."""
    first, last = utc_day(start), utc_day(end - timedelta(microseconds=1))
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
