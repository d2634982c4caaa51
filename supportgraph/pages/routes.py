"""Serves the pages (static HTML and JavaScript over the API) and the demo sign-in.

The pages hold no logic of their own beyond display: every figure, message and decision
comes from the API, with the credential the page signed in with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from supportgraph.api_models import ID_PATTERN
from supportgraph.auth.demo import DEMO_LEAD, DemoRefused, DemoRole, DemoSignIn
from supportgraph.demo.fixtures import FIXTURE_CUSTOMERS
from supportgraph.http_errors import error_responses, invalid
from supportgraph.pages import help as help_centre
from supportgraph.support import SupportService

HERE = Path(__file__).parent
PAGES = {"chat": "chat.html", "console": "console.html", "dashboard": "dashboard.html"}
NO_STORE = {"Cache-Control": "no-cache"}
DEMO_AGENT = "agent_demo"

router = APIRouter(include_in_schema=False)
demo = APIRouter(prefix="/v1/demo", tags=["demo"])


def _page(name: str) -> FileResponse:
    return FileResponse(HERE / "templates" / PAGES[name], headers=NO_STORE)


@router.get("/")
def home() -> FileResponse:
    """The chat page is the front door."""
    return _page("chat")


@router.get("/chat")
def chat() -> FileResponse:
    """The customer's conversation with the agent (also embedded by widget.js)."""
    return _page("chat")


@router.get("/console")
def console() -> FileResponse:
    """The human agents' queue and conversations."""
    return _page("console")


@router.get("/dashboard")
def dashboard() -> FileResponse:
    """The support lead's figures."""
    return _page("dashboard")


@router.get("/widget.js")
def widget() -> FileResponse:
    """The snippet a company pastes into its site: a chat button opening /chat."""
    return FileResponse(
        HERE / "static" / "widget.js", media_type="text/javascript", headers=NO_STORE
    )


class DemoSignInBody(BaseModel):
    """Who to sign in as in the demo."""

    role: DemoRole
    subject: Annotated[str | None, Field(pattern=ID_PATTERN)] = None


class DemoStatus(BaseModel):
    """Whether the demo sign-in is on, and whom it offers."""

    enabled: bool
    customers: list[dict[str, str]]
    agent: str
    lead: str


def _demo(request: Request) -> DemoSignIn | None:
    found: DemoSignIn | None = getattr(request.app.state, "demo", None)
    return found


@demo.get("", response_model=DemoStatus)
def demo_status(request: Request) -> DemoStatus:
    """The demo's identities; disabled anywhere but the embedded default."""
    enabled = _demo(request) is not None
    customers = [{"id": c["id"], "name": c["name"]} for c in FIXTURE_CUSTOMERS] if enabled else []
    return DemoStatus(enabled=enabled, customers=customers, agent=DEMO_AGENT, lead=DEMO_LEAD)


@demo.post("/sign-in", responses=error_responses(400, 404, signed_in=False))
def demo_sign_in(body: DemoSignInBody, request: Request) -> dict[str, object]:
    """A token for a demo customer, agent or support lead (embedded default only)."""
    signer = _demo(request)
    if signer is None:
        raise HTTPException(
            404, "demo sign-in is only on the embedded default, while its development key is active"
        )
    support: SupportService = request.app.state.support
    default = {"customer": "cust_456", "agent": DEMO_AGENT, "lead": DEMO_LEAD}[body.role]
    try:
        return signer.sign_in(support.services, body.role, body.subject or default)
    except DemoRefused as exc:
        raise invalid(("body", "subject"), str(exc), body.subject) from exc


def install(app: FastAPI) -> None:
    """Serve the pages, their static files and the demo sign-in."""
    app.include_router(router)
    app.include_router(help_centre.router)
    app.include_router(demo)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
