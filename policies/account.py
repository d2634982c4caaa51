"""Account policies: password resets and recovery. Pure functions."""

from __future__ import annotations

from policies.decision import PolicyDecision, allow, deny
from supportgraph.commerce.records import CustomerRecord


def check_password_reset(
    customer: CustomerRecord | None, *, has_email_access: bool = True
) -> PolicyDecision:
    """A reset link goes only to the email on file; without access to it, a human verifies."""
    if customer is None:
        return deny("account.not_found", "We couldn't find your account.")
    if not has_email_access:
        return deny(
            "account.recovery.human",
            "Without access to the email on file, a team member has to verify your identity.",
            requires_human=True,
        )
    return allow(
        "account.reset.email_on_file",
        "A reset link can be sent to the email address on file.",
    )
