"""Every page passes axe-core with no serious or critical violation, on a desktop and a phone.

axe-core is an npm package, not a Python one: ``.ci/run`` installs it and names its
``axe.min.js`` in ``SAMSYN_AXE``. Without it these tests skip with the reason, and fail
under ``SAMSYN_REQUIRE_BROWSER`` (as in CI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import DESKTOP, PHONE, REQUIRE_BROWSER, Site
from tests.browser.test_dashboard_page import VIEWS

AXE = Path(os.environ.get("SAMSYN_AXE", "build/axe/node_modules/axe-core/axe.min.js"))
#: What fails a page: axe's two worst impacts.
FAILING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.is_file():
        reason = (f"no axe-core at {AXE} (npm install --prefix build/axe axe-core@4, "
                  "or set SAMSYN_AXE)")
        if REQUIRE_BROWSER:
            pytest.fail(f"SAMSYN_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(reason)
    return AXE


PAGES = sorted({path for _, path, _ in VIEWS}
               | {"/?as_of=2021-06-30", "/decisions?organisation=RJH"})


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_no_page_has_a_serious_or_critical_violation(
    device: str, browser: Browser, site: Site, axe_script: Path,
) -> None:
    # The pages allow scripts from their own origin only: the test's own script needs CSP
    # bypassed in its browser context, which changes nothing the page itself does.
    context = browser.new_context(viewport=DESKTOP if device == "desktop" else PHONE,  # type: ignore[arg-type]
                                  locale="sv-SE", bypass_csp=True)
    found: dict[str, list[str]] = {}
    try:
        page = context.new_page()
        for path in PAGES:
            page.goto(site.url + path)
            page.add_script_tag(path=str(axe_script))
            result: dict[str, Any] = page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [f"{v['id']} ({v['impact']}): {v['help']} at "
                   f"{[n['target'] for n in v['nodes']][:3]}"
                   for v in result["violations"] if v["impact"] in FAILING]
            if bad:
                found[path] = bad
    finally:
        context.close()
    assert found == {}
