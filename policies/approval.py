"""What a person's approval changes in a policy decision. Pure functions."""

from __future__ import annotations

from dataclasses import replace

from policies.decision import PolicyDecision


def awaits_person(*, status: str, allowed: bool, requires_human: bool) -> bool:
    """Whether an action is a proposal that policy allowed only with a person's approval."""
    return status == "proposed" and allowed and requires_human


def after_approval(decision: PolicyDecision) -> PolicyDecision:
    """The decision, made again at approval time, once a person has approved the action.

    Only the need for a person is lifted: a refusal (the window has closed since, the daily
    cap is reached, the order was refunded meanwhile) stands whatever the person says.
    """
    if not decision.allowed or not decision.requires_human:
        return decision
    return replace(decision, requires_human=False, details={**decision.details, "approved": True})
