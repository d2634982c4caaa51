"""Account policies: password resets and recovery. Pure functions."""

from __future__ import annotations

from policies.decision import PolicyDecision, allow, deny
from supportgraph.commerce.records import CustomerRecord


def _same_address(one: str, two: str) -> bool:
    return one.strip().casefold() == two.strip().casefold()


def check_password_reset(
    customer: CustomerRecord | None,
    *,
    has_email_access: bool = True,
    requested_email: str | None = None,
) -> PolicyDecision:
    """A reset link goes only to the email on file; without access to it, a human verifies.

    An address given in the conversation is never used: one that differs from the address
    on file is refused, whoever asks for it.
    """
    if customer is None:
        decision = deny("account.not_found", "We couldn't find your account.")
    elif not has_email_access:
        decision = deny(
            "account.recovery.human",
            "To recover an account, a team member first verifies your identity.",
            requires_human=True,
        )
    elif requested_email and not _same_address(requested_email, customer.email):
        decision = deny(
            "account.reset.email_not_on_file",
            "A reset link can only go to the email address on your account. If you can't "
            "reach that inbox any more, a team member can verify your identity.",
        )
    else:
        decision = allow(
            "account.reset.email_on_file",
            "A reset link can be sent to the email address on file.",
        )
    return decision.with_inputs(
        customer_found=customer is not None,
        has_email_access=has_email_access,
        requested_email=requested_email,
    )
