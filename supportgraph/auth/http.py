"""The HTTP side of the trust boundary: who the caller is, before any route runs.

Every route but ``/healthz`` and the OpenAPI docs depends on ``caller``. A credential is sent
as ``Authorization: Bearer <API key or signed token>``, never in a URL (URLs reach access
logs). Refusals say why, and never repeat the credential.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supportgraph.auth import keys
from supportgraph.auth.guard import AccessRefused
from supportgraph.auth.principals import Principal
from supportgraph.auth.rate_limits import RateLimited, RateLimits
from supportgraph.auth.tokens import TokenRefused, verify_token
from supportgraph.http_errors import invalid, validation_refusal

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`sgk_...`) or a token signed by the company's backend.",
)


class Authenticator:
    """Turns a presented credential into a principal, and logs what it refuses."""

    def __init__(
        self, engine: Callable[[], Engine], token_secrets: list[str], limits: RateLimits
    ) -> None:
        """Verify keys against this database (built on first use) and tokens with these secrets."""
        self._engine = engine
        self._secrets = token_secrets
        self._limits = limits

    def accept(self, secret: str) -> None:
        """Verify tokens signed with ``secret`` too (the demo's, on the embedded default)."""
        if secret not in self._secrets:
            self._secrets = [*self._secrets, secret]

    async def principal(self, request: Request, presented: str | None) -> Principal:
        """The caller, or a 401 that says why."""
        key_id = None
        try:
            if not presented:
                raise TokenRefused(
                    "no credentials: send 'Authorization: Bearer <API key or signed token>'"
                )
            if presented.startswith(keys.PREFIX):
                key_id = keys.key_id_of(presented)
                return await self._key(presented, key_id)
            return verify_token(presented, self._secrets)
        except (keys.KeyRefused, TokenRefused) as exc:
            client = request.client.host if request.client else "-"
            self._limits.auth_failed(client, str(exc), key_id)
            # RFC 6750: no error code when the request carried no credentials at all.
            challenge = 'Bearer error="invalid_token"' if presented else "Bearer"
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": challenge}) from None

    async def _key(self, presented: str, key_id: str | None) -> Principal:
        if key_id is None:
            raise keys.KeyRefused("unknown API key")
        known, row = keys.cached_key(key_id)
        if not known:
            row = await run_in_threadpool(keys.load_key, self._engine(), key_id)
        return keys.principal_for_key(presented, row)


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller of this request (async: no worker thread for a cached key)."""
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.principal(request, credentials.credentials if credentials else None)


Caller = Annotated[Principal, Depends(caller)]


async def access_refusal(request: Request, exc: Exception) -> JSONResponse:
    """The answer to a refusal by the access policy: 403, 404, or a 422 naming the field."""
    assert isinstance(exc, AccessRefused)
    decision = exc.decision
    if decision.outcome == "invalid":
        return await validation_refusal(
            request, invalid(("body", "customer_id"), decision.reason, None)
        )
    status = 404 if decision.outcome == "hidden" else 403
    return JSONResponse({"detail": decision.reason}, status_code=status)


async def rate_refusal(_request: Request, exc: Exception) -> JSONResponse:
    """429 with the seconds until the limit's window ends."""
    assert isinstance(exc, RateLimited)
    return JSONResponse(
        {"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after_s)}
    )


def install(app: FastAPI, authenticator: Authenticator, max_body_bytes: int) -> None:
    """Put the boundary in front of the app's routes."""
    app.state.authenticator = authenticator
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_exception_handler(AccessRefused, access_refusal)
    app.add_exception_handler(RateLimited, rate_refusal)


class BodySizeLimit:
    """Refuses a request body over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Wrap ``app``."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"detail": _too_large_text(self.max_bytes)}, status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # no Content-Length (chunked): caught while reading
                raise HTTPException(413, _too_large_text(self.max_bytes))
            return message

        await self.app(scope, counted, send)


def _too_large_text(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"
