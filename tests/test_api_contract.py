"""The documented client that every API test uses refuses answers its OpenAPI does not list."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, HTTPException
from testkit import DocumentedClient

from supportgraph.http_errors import error_responses


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/teapot")
    def teapot() -> dict[str, str]:
        raise HTTPException(418, "short and stout")

    @app.get("/missing", responses=error_responses(404))
    def missing() -> dict[str, str]:
        raise HTTPException(404, {"why": "a refusal whose detail is not a text"})

    @app.get("/found/{number}", responses=error_responses(404))
    def found(number: int) -> dict[str, int]:
        if number > 9:
            raise HTTPException(404, f"no {number}")
        return {"number": number}

    return app


def test_documented_answers_pass() -> None:
    with DocumentedClient(_app()) as client:
        assert client.get("/found/3").json() == {"number": 3}
        assert client.get("/found/12").json() == {"detail": "no 12"}
        assert client.get("/found/three").status_code == 422


def test_an_undocumented_status_code_fails() -> None:
    with DocumentedClient(_app()) as client, pytest.raises(AssertionError, match="answered 418"):
        client.get("/teapot")


def test_a_refusal_of_another_shape_than_documented_fails() -> None:
    with DocumentedClient(_app()) as client, pytest.raises(AssertionError, match="ErrorOut"):
        client.get("/missing")
