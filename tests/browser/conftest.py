"""The dashboard in a real browser: headless Chromium, driven by Playwright, on the real history.

The service runs in a live uvicorn server (``tests/api/live.py``) on an SQLite file, and
the real history is loaded through ``POST /v1/import``, as a registrar would. These
tests are SQLite only: the read models the page shows are specified on SQLite and
PostgreSQL in ``tests/projections`` and ``tests/api``; what is tested here is the page.

Chromium is Debian's (``apt-get install chromium``), at ``/usr/bin/chromium`` or at
``SAMSYN_CHROMIUM``; Playwright never downloads a browser of its own here. Without
Chromium or Playwright the tests are skipped with the reason, unless
``SAMSYN_REQUIRE_BROWSER=1``, when they fail instead.

Screenshots of every view, at 1280x800 and on a phone, are written to
``tests/browser/screenshots/`` (or ``SAMSYN_SCREENSHOTS``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.accounts import AccountStore
from api.app import create_app
from ledger.importing import demo_lines
from ledger.settings import Settings
from tests.api.live import live_server

with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Locator, Page, Request, sync_playwright

CHROMIUM = Path(os.environ.get("SAMSYN_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("SAMSYN_REQUIRE_BROWSER", "") not in ("", "0", "false")
SCREENSHOTS = Path(os.environ.get("SAMSYN_SCREENSHOTS", Path(__file__).parent / "screenshots"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SAMSYN_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    reason = browser_unavailable()
    if reason is not None:
        if REQUIRE_BROWSER:
            pytest.fail(f"SAMSYN_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Site:
    """The service with the real history loaded, and an admin token to record more."""

    url: str
    app: FastAPI
    token: str

    def record(self, path: str, command: dict[str, Any]) -> dict[str, Any]:
        """Record a command through the registrar API, as a registrar's client would."""
        response = httpx.post(f"{self.url}/v1/{path}", json=command, timeout=30,
                              headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


@contextlib.contextmanager
def real_history(folder: Path) -> Iterator[Site]:
    settings = Settings(database_url=f"sqlite:///{folder / 'ledger.sqlite3'}",
                        demo_on_empty=False)
    token = AccountStore(settings).create("admin", "admin", [])
    app = create_app(settings)
    with live_server(app) as url:
        response = httpx.post(f"{url}/v1/import", content="\n".join(demo_lines()).encode(),
                              headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert response.status_code == 201, response.text
        app.state.runner.wait_until(response.json()["last_position"], timeout=30)
        yield Site(url, app, token)


@pytest.fixture(scope="session")
def site(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The real history, shared by the tests that only read it."""
    with real_history(tmp_path_factory.mktemp("site")) as found:
        yield found


@pytest.fixture
def own_site(browser: Browser, tmp_path: Path) -> Iterator[Site]:
    """The real history, for a test that records more."""
    with real_history(tmp_path) as found:
        yield found


@dataclass
class Visit:
    """A browser page on the site, remembering every request it made."""

    page: Page
    site: Site
    requests: list[str] = field(default_factory=list)

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.site.url + path)
        return self.page

    def shoot(self, name: str, full_page: bool = True, part: Locator | None = None) -> Path:
        """Save a screenshot of the page (or of ``part`` of it) as ``SCREENSHOTS/name.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if part is not None:
            part.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=full_page)
        return path


@contextlib.contextmanager
def visit(browser: Browser, site: Site, viewport: dict[str, int],
          scale: float = 1) -> Iterator[Visit]:
    """A fresh browser context in Swedish; afterwards, nothing may have come from elsewhere."""
    context = browser.new_context(viewport=viewport, device_scale_factor=scale,  # type: ignore[arg-type]
                                  locale="sv-SE", timezone_id="Europe/Stockholm")
    page = context.new_page()
    seen = Visit(page, site)

    def remember(request: Request) -> None:
        seen.requests.append(request.url)

    page.on("request", remember)
    try:
        yield seen
    finally:
        context.close()
    elsewhere = [u for u in seen.requests
                 if not u.startswith(site.url) and not u.startswith("data:")]
    assert not elsewhere, f"the page fetched from outside the service: {elsewhere}"


@pytest.fixture
def desktop(browser: Browser, site: Site) -> Iterator[Visit]:
    """A 1280x800 browser page on the shared real history."""
    with visit(browser, site, DESKTOP) as seen:
        yield seen
