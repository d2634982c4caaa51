"""Hard escalation rules: what must always go to a human, whatever the scores say."""

from __future__ import annotations

from collections.abc import Iterable

from policies.config import PolicyConfig
from policies.decision import PolicyDecision, allow, deny


def must_escalate(
    intents: Iterable[tuple[str, str | None]], *, turn: int, config: PolicyConfig
) -> PolicyDecision:
    """Deny automation when an intent or sub-intent is on the always-escalate list.

    Returns an allowing decision when automation may continue.
    """
    rules = config.escalation
    for intent, sub_intent in intents:
        for key in (f"{intent}:{sub_intent}" if sub_intent else None, intent):
            if key and key in rules.always_escalate:
                return deny(f"escalate.always.{key}", f"'{key}' is always handled by a person.")
    if turn > rules.max_turns_before_handoff:
        return deny("escalate.too_many_turns", "The conversation has gone on too long unresolved.")
    return allow("escalate.none", "No hard escalation rule applies.")
