"""Signed tokens (JWT, HS256) that a company's backend issues to its customers and staff.

The customer's browser or app sends the token instead of an API key, as with Intercom's
identity verification or Zendesk's messaging JWTs: ``sub`` is the customer id, ``exp`` is
required. A token with ``scope`` ("agent", "admin", "reports", space-separated) is a member of
staff, ``sub`` their agent id. Two secrets verify during a rotation: the current and the
previous one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import jwt

from supportgraph.api_models import ID_PATTERN
from supportgraph.auth.principals import TOKEN_STAFF_SCOPES, Principal, PrincipalKind, Scope

ALGORITHM = "HS256"
LEEWAY_S = 30  # clock skew between the issuing backend and this server


class TokenRefused(Exception):
    """The token cannot be trusted; the message says why, never the token."""


def issue_token(
    secret: str,
    subject: str,
    *,
    ttl_s: int = 3600,
    scopes: Sequence[str] = (),
    now: float | None = None,
) -> str:
    """A token for ``subject`` (a customer id, or an agent id with staff scopes)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, object] = {"sub": subject, "iat": issued, "exp": issued + ttl_s}
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secrets: Sequence[str]) -> Principal:
    """The caller a token proves, checked against each accepted secret in turn.

    Raises:
        TokenRefused: no secret is configured, or the token is forged, altered, expired or
            malformed.

    """
    if not secrets:
        raise TokenRefused("signed tokens are not enabled (no SUPPORTGRAPH_TOKEN_SECRET)")
    claims: dict[str, object] | None = None
    for secret in secrets:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                leeway=LEEWAY_S,
                options={"require": ["sub", "exp"]},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused("the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"the token is not valid: {type(exc).__name__}") from exc
    if claims is None:
        raise TokenRefused("the token's signature does not verify")
    return _principal(claims)


def _principal(claims: dict[str, object]) -> Principal:
    subject = claims["sub"]
    if not isinstance(subject, str) or not re.fullmatch(ID_PATTERN, subject):
        raise TokenRefused("the token's subject is not an id")
    scope_text = claims.get("scope", "")
    if not isinstance(scope_text, str):
        raise TokenRefused("the token's scope is not a text")
    names = scope_text.split()
    if not names:
        return Principal(subject, PrincipalKind.CUSTOMER_TOKEN, frozenset({Scope.CUSTOMER}))
    if any(name not in TOKEN_STAFF_SCOPES for name in names):
        raise TokenRefused(f"a token may carry only {', '.join(sorted(TOKEN_STAFF_SCOPES))}")
    return Principal(subject, PrincipalKind.STAFF_TOKEN, frozenset(Scope(n) for n in names))
