"""Object-level checks: the access policy applied to a stored ticket, before a service runs."""

from __future__ import annotations

from sqlmodel import Session

from policies.access import AccessDecision, check_ticket_change, check_ticket_read
from supportgraph.auth.audit import Actor
from supportgraph.auth.principals import Principal
from supportgraph.db.models import SupportTicket
from supportgraph.observability import bind_ticket
from supportgraph.services import Services
from supportgraph.support import NotFoundError


class AccessRefused(Exception):
    """The caller may not do this; the decision says whether to answer 403, 404 or 422."""

    def __init__(self, decision: AccessDecision) -> None:
        """Keep the decision that refused."""
        super().__init__(decision.reason)
        self.decision = decision


def allowed(decision: AccessDecision, principal: Principal) -> Actor:
    """The actor an allowing decision admits, speaking for the decision's customer.

    Raises:
        AccessRefused: the decision refuses.

    """
    if not decision.allowed or decision.granted_by is None:
        raise AccessRefused(decision)
    return Actor(principal, decision.granted_by, decision.customer_id)


def ticket_owner(services: Services, ticket_id: str) -> str:
    """The customer a ticket belongs to.

    Raises:
        NotFoundError: no such ticket.

    """
    with Session(services.engine) as session:
        ticket = session.get(SupportTicket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id} not found")
    return ticket.customer_id


def authorize_ticket(
    services: Services,
    principal: Principal,
    ticket_id: str,
    *,
    claimed_customer: str | None = None,
    change: bool = False,
) -> Actor:
    """Let the caller read (or, with ``change``, act on) a ticket.

    A ticket the caller may not see is refused as if it did not exist. The actor speaks for
    the ticket's customer; the route records the access once the service has run.

    Raises:
        NotFoundError: no such ticket, or one the caller may not see.
        AccessRefused: the caller's credential does not allow the route.

    """
    owner = ticket_owner(services, ticket_id)
    bind_ticket(ticket_id)
    decision = (
        check_ticket_change(principal, owner, claimed_customer)
        if change
        else check_ticket_read(principal, owner)
    )
    if decision.outcome == "hidden":
        raise NotFoundError(f"ticket {ticket_id} not found")
    return allowed(decision, principal)
