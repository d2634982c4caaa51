"""Demo sign-in for the pages on the embedded default, and only there.

It is on while the local development key is active: that key exists only on a store that
no operator configured, and the server refuses any address but loopback while it is
active (``development.network_refusal``). A company's deployment signs its customers and
staff in with tokens its own backend issues, or with keys made by ``supportgraph keys``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine

from policies.queue import ANY_SKILL
from supportgraph.agents.workflow import register_agent
from supportgraph.auth import keys
from supportgraph.auth.tokens import issue_token
from supportgraph.services import Services

DemoRole = Literal["customer", "agent", "lead"]
DEMO_TOKEN_TTL_S = 8 * 3600
DEMO_LEAD = "support_lead"
DEMO_AGENT_CAPACITY = 5


class DemoRefused(Exception):
    """The demo cannot sign this in; the message says why."""


@dataclass(frozen=True)
class DemoSignIn:
    """Issues the demo's tokens with the secret the server verifies them with."""

    secret: str

    def sign_in(self, services: Services, role: DemoRole, subject: str) -> dict[str, object]:
        """A token for a demo customer, agent (registered on first sign-in) or support lead.

        Raises:
            DemoRefused: the customer does not exist in the store.

        """
        scopes: tuple[str, ...] = ()
        if role == "customer":
            if services.backend.get_customer(subject) is None:
                raise DemoRefused(f"no customer {subject} in the demo store")
        elif role == "agent":
            scopes = ("agent",)
            register_agent(
                services.engine,
                agent_id=subject,
                name=subject.replace("_", " ").title(),
                skills=[ANY_SKILL],
                capacity=DEMO_AGENT_CAPACITY,
            )
        else:
            scopes = ("reports",)
        token = issue_token(self.secret, subject, ttl_s=DEMO_TOKEN_TTL_S, scopes=scopes)
        return {
            "token": token,
            "subject": subject,
            "role": role,
            "scopes": list(scopes) or ["customer"],
            "expires_in": DEMO_TOKEN_TTL_S,
        }


def demo_sign_in(services: Services) -> DemoSignIn | None:
    """The demo sign-in when the development key is active, else None."""
    if not development_key_active(services.engine):
        return None
    configured = services.settings.token_secrets
    return DemoSignIn(configured[0] if configured else _local_secret(services))


def development_key_active(engine: Engine) -> bool:
    """Whether this store's local development key is in use."""
    return any(row.development for row in keys.active_keys(engine))


def _local_secret(services: Services) -> str:
    """A token secret kept beside the development key (mode 0600), made on first use."""
    path = services.settings.data_dir / "dev-token-secret"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret
