"""Who may do what through the API: pure decisions over the caller and the object.

Each decision names the rule that made it, and the scope that granted access is what the
audit records. A refusal of the route itself is ``forbidden`` (403); a ticket the caller may
not see is ``hidden`` (404), so another customer's ticket looks exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from supportgraph.auth.principals import Principal, Scope

Outcome = Literal["allowed", "forbidden", "hidden", "invalid"]


@dataclass(frozen=True)
class AccessDecision:
    """The outcome, the rule behind it, and why."""

    outcome: Outcome
    rule_id: str
    reason: str
    granted_by: Scope | None = None
    customer_id: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the request may go on."""
        return self.outcome == "allowed"


def _allow(rule_id: str, scope: Scope, customer_id: str | None = None) -> AccessDecision:
    return AccessDecision("allowed", rule_id, "allowed", scope, customer_id)


def check_speaks_for(principal: Principal, claimed: str | None) -> AccessDecision:
    """Which customer a customer-side request speaks for.

    A customer's token speaks for its own customer only; the company's backend (scope
    ``customer:act-as``) names the customer in the body. Staff do not speak as customers.
    """
    if principal.is_customer:
        if claimed not in (None, principal.id):
            return AccessDecision(
                "forbidden", "access.token_customer", "the token is for another customer"
            )
        return _allow("access.token_customer", Scope.CUSTOMER, principal.id)
    if principal.has(Scope.ACT_AS):
        if claimed is None:
            return AccessDecision(
                "invalid", "access.act_as", "customer_id is required when a key speaks for one"
            )
        return _allow("access.act_as", Scope.ACT_AS, claimed)
    return AccessDecision(
        "forbidden",
        "access.customer_side",
        "speaking for a customer takes the customer's token or a key with scope customer:act-as",
    )


def check_ticket_read(principal: Principal, owner: str) -> AccessDecision:
    """A ticket, its messages, actions, CSAT and packet: its own customer, the backend, staff."""
    if principal.is_customer:
        if principal.id == owner:
            return _allow("access.own_ticket", Scope.CUSTOMER, owner)
        return AccessDecision("hidden", "access.own_ticket", "not this customer's ticket")
    for scope in (Scope.ACT_AS, Scope.AGENT, Scope.ADMIN):
        if principal.has(scope):
            return _allow("access.ticket_read", scope, owner)
    return AccessDecision(
        "forbidden", "access.ticket_read", "reading tickets takes a customer, agent or admin scope"
    )


def check_ticket_change(principal: Principal, owner: str, claimed: str | None) -> AccessDecision:
    """A customer-side change to an existing ticket, bound to the ticket's own customer."""
    if claimed is None and principal.has(Scope.ACT_AS):
        claimed = owner  # the backend need not repeat whose ticket it is
    speaks = check_speaks_for(principal, claimed)
    if not speaks.allowed:
        return speaks
    if speaks.customer_id != owner:
        return AccessDecision("hidden", "access.own_ticket", "not this customer's ticket")
    return speaks


def check_acts_as_agent(principal: Principal, agent_id: str | None) -> AccessDecision:
    """Agent routes act as the caller; an admin may act for any agent."""
    if principal.has(Scope.ADMIN):
        return _allow("access.admin", Scope.ADMIN)
    if not principal.has(Scope.AGENT):
        return AccessDecision("forbidden", "access.agent", "agent routes take scope agent")
    if agent_id is not None and agent_id != principal.id:
        return AccessDecision(
            "forbidden", "access.agent_self", f"an agent acts only as themselves ({principal.id})"
        )
    return _allow("access.agent_self", Scope.AGENT)


def check_manages_agents(principal: Principal) -> AccessDecision:
    """Registering and changing agents is an admin's."""
    if principal.has(Scope.ADMIN):
        return _allow("access.manage_agents", Scope.ADMIN)
    return AccessDecision("forbidden", "access.manage_agents", "registering agents takes admin")


def check_reads_reports(principal: Principal) -> AccessDecision:
    """Analytics: an admin, or a key or token with scope reports."""
    for scope in (Scope.ADMIN, Scope.REPORTS):
        if principal.has(scope):
            return _allow("access.reports", scope)
    return AccessDecision("forbidden", "access.reports", "analytics take scope admin or reports")


def check_reads_metrics(principal: Principal) -> AccessDecision:
    """The service's metrics (every customer's traffic in aggregate): an admin's."""
    if principal.has(Scope.ADMIN):
        return _allow("access.metrics", Scope.ADMIN)
    return AccessDecision("forbidden", "access.metrics", "metrics take scope admin")
