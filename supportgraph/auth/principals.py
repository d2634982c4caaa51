"""The callers of the API: a customer proven by a token, a key's holder, a member of staff."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """What a credential allows."""

    CUSTOMER = "customer"  # a customer's own token: their own tickets only
    ACT_AS = "customer:act-as"  # the company's backend, speaking for the customer it names
    AGENT = "agent"  # a human agent, acting as themselves
    ADMIN = "admin"  # registers agents, acts for any agent, reads reports
    REPORTS = "reports"  # reads analytics


KEY_SCOPES = frozenset({Scope.ACT_AS, Scope.AGENT, Scope.ADMIN, Scope.REPORTS})
# A signed token may carry staff scopes; speaking for any customer takes an API key.
TOKEN_STAFF_SCOPES = frozenset({Scope.AGENT, Scope.ADMIN, Scope.REPORTS})


class PrincipalKind(StrEnum):
    """How the caller proved who they are."""

    CUSTOMER_TOKEN = "customer_token"
    STAFF_TOKEN = "staff_token"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``id`` is the customer id of a customer token, the agent id of a staff token, and the
    principal an API key was created for (an agent id, or a name such as ``web-backend``).
    ``key_id`` is the public id of the API key used, never its secret.
    """

    id: str
    kind: PrincipalKind
    scopes: frozenset[Scope]
    key_id: str | None = None

    def has(self, scope: Scope) -> bool:
        """Whether the caller holds this scope."""
        return scope in self.scopes

    @property
    def is_customer(self) -> bool:
        """A customer speaking for themselves."""
        return self.kind == PrincipalKind.CUSTOMER_TOKEN

    @property
    def is_staff(self) -> bool:
        """An agent or an admin."""
        return self.has(Scope.AGENT) or self.has(Scope.ADMIN)

    @property
    def limit_key(self) -> str:
        """What the per-key rate limits count by."""
        return self.key_id or f"{self.kind.value}:{self.id}"
