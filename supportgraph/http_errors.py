"""The HTTP API's refusals: one body shape per status code, each documented in the OpenAPI."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

_MEANINGS = {
    400: "The body could not be read: it is not JSON in UTF-8.",
    401: "No credentials, or ones that cannot be trusted: an unknown or revoked API key, a "
    "forged, altered or expired token. Send `Authorization: Bearer <API key or token>`.",
    403: "The credentials are valid but do not allow this request (scope, or another agent).",
    404: "The ticket, customer, agent or order the request names does not exist.",
    409: "The request contradicts the current state of the ticket or the action.",
    413: "The request body is larger than the server accepts.",
    429: "A rate limit was reached: send the request again after `Retry-After` seconds.",
    503: "Busy (every turn slot stayed taken) or shutting down: send the request again after "
    "`Retry-After` seconds.",
}


class ErrorOut(BaseModel):
    """Why the request was refused."""

    detail: str


def error_responses(*codes: int, signed_in: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the refusals a route answers besides FastAPI's own 422.

    A route behind the trust boundary (``signed_in``) also answers 401 and 403, and one that
    reads a body (400 among ``codes``) answers 413 for a body over the size limit.
    """
    every = set(codes)
    if signed_in:
        every |= {401, 403}
    if 400 in every:
        every.add(413)
    return {code: {"model": ErrorOut, "description": _MEANINGS[code]} for code in sorted(every)}


def invalid(location: tuple[str, ...], message: str, value: Any) -> RequestValidationError:
    """A 422 for a check no schema states, in the shape of every other 422 of the API.

    One shape lets a client read any 422 the same way: ``detail`` is a list of errors, each
    with the ``loc`` of the field at fault.
    """
    error = {"type": "value_error", "loc": location, "msg": message, "input": value}
    return RequestValidationError([error])


class EscapedJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped, so that any Python text can be sent."""

    def render(self, content: Any) -> bytes:  # noqa: D102 (Starlette's hook)
        return json.dumps(content, separators=(",", ":")).encode("ascii")


async def validation_refusal(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, rendered so that it cannot fail on the input it echoes.

    A JSON body may carry a lone surrogate (an escaped ``ud800``); validation refuses it, and its
    error quotes it back, which UTF-8 cannot encode: the default handler answered 500.
    """
    assert isinstance(exc, RequestValidationError)
    return EscapedJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
