"""Browser tests: the real app served on a loopback port, driven by headless Chromium.

They need Debian's ``chromium`` (``/usr/bin/chromium``) and the ``playwright`` package,
which ``.ci/run`` installs; without them the tests are skipped, saying why.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from server import create_app
from supportgraph.auth.development import ensure_development_key
from supportgraph.loadtest import free_loopback_port
from supportgraph.services import Services

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def _why_no_browser() -> str | None:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "no Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (.ci/run installs it)"
    return None


NO_BROWSER = _why_no_browser()
needs_browser = pytest.mark.skipif(NO_BROWSER is not None, reason=NO_BROWSER or "")


@dataclass
class LiveApp:
    """The app serving on a loopback port over a test's services."""

    url: str
    services: Services
    api_key: str


@pytest.fixture
def live_app(services: Services) -> Iterator[LiveApp]:
    """The real app (lifespan, pages, streams) over this test's seeded store, demo on."""
    key_file = ensure_development_key(services.engine, services.settings)
    assert key_file is not None
    port = free_loopback_port()
    config = uvicorn.Config(
        create_app(services=services), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", services, key_file.read_text().strip())
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Playwright's sync API keeps an event loop marked running in the main thread while it is
    open, so code that later calls ``asyncio.run`` (the load test) would fail after it; a
    module's worth keeps that to the browser tests.
    """
    if NO_BROWSER is not None:
        pytest.skip(NO_BROWSER)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=CHROMIUM_ARGS,
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Opens pages in fresh browser contexts (one context, one person); closed after."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save the page as docs/screenshots/<name>.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
