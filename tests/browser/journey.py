"""The screenshots and accessibility checks of a browser journey, apart from the desk so that
they can be tested alone: Debian's Chromium through Playwright, a `Journey` that screenshots each
step and runs axe-core in each page, and the fixture that writes the screenshots of a failed test
to test-artifacts/browser/<test>/ (and nothing for a test that passes).

tests/browser/conftest.py imports the fixtures and the report hook from here.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
TIMEOUT_MS = 120_000
"""Each Playwright action and wait, and Chromium's launch, end as soon as they can; this bound
only matters when one hangs. Generous: the machine is small and shared, and approving an access
request builds a PDF."""

_REPORT_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
_PASSED_AXE: set[str] = set()
"""The steps whose page passed axe-core in this test process."""

expect.set_options(timeout=TIMEOUT_MS)  # the assertions' own default is 5 s


# --- failure reports for the screenshot fixture ---------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so that fixtures can tell a failed test at teardown."""
    report = yield
    item.stash.setdefault(_REPORT_KEY, {})[report.when] = report
    return report


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORT_KEY, {})
    return any(report.failed for report in reports.values())


# --- Chromium -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The axe-core script; its absence fails the journeys (a skip would hide them)."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            f"{AXE_SCRIPT.relative_to(PROJECT_ROOT)} is missing: `make test` installs axe-core "
            "from the npm registry (npm ci)",
            pytrace=False,
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, launched once per test module: while Playwright's sync API lives, it
    marks its asyncio loop as running in this thread, which would break `asyncio.run` in the
    other modules' tests that a worker runs next."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the project's setup installs Debian's chromium package",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
        )
        try:
            yield chromium
        finally:
            chromium.close()


# --- the journey: screenshots and accessibility -------------------------------------------------


@dataclass
class Journey:
    """The steps of one test: a screenshot after each, and axe-core's verdict on each page."""

    browser: Browser
    axe_source: str
    steps: list[tuple[str, bytes]] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def new_page(self, **context_options: Any) -> Page:
        """Open a page in a browser context of its own (its own cookies: one person)."""
        context = self.browser.new_context(accept_downloads=True, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        self.pages.append(page)
        return page

    def snap(self, page: Page, name: str) -> None:
        """Keep a screenshot of `page` as the next step."""
        self.steps.append((name, page.screenshot(full_page=True)))

    def step(self, page: Page, name: str) -> None:
        """Keep a screenshot of `page`, then fail on its serious or critical axe violations.

        Steps are named after the page and its state: a page another journey of this process
        already passed under the same name is not checked again (it is the same page).
        """
        self.snap(page, name)
        if name in _PASSED_AXE:
            return
        violations = self.violations(page)
        assert not violations, f"accessibility of the page '{name}' ({page.url}):\n" + "\n".join(
            violations
        )
        _PASSED_AXE.add(name)

    def violations(self, page: Page) -> list[str]:
        """Run axe-core in the page (injected through the DevTools protocol, which the page's
        CSP does not govern); describe each serious or critical violation."""
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe_source)
        found: list[dict[str, Any]] = page.evaluate(
            """async () => {
                const results = await axe.run(document, {resultTypes: ["violations"]});
                return results.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    targets: v.nodes.map(n => n.target.join(" ")),
                }));
            }"""
        )
        return [
            f"- {v['id']} ({v['impact']}): {v['help']}; at {', '.join(v['targets'])}"
            for v in found
            if v["impact"] in BLOCKING_IMPACTS
        ]

    def save(self, folder: Path) -> None:
        """Write the screenshots as NN-step.png, then one of each open page as it was last."""
        shots = list(self.steps)
        for number, page in enumerate(self.pages, start=1):
            if page.is_closed():
                continue
            try:
                shots.append((f"at-failure-page-{number}", page.screenshot(full_page=True)))
            except Exception:  # noqa: S112 (a page that cannot be shot must not hide the failure)
                continue
        if not shots:
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for number, (name, png) in enumerate(shots, start=1):
            (folder / f"{number:02d}-{_slug(name)}.png").write_bytes(png)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "step"


@pytest.fixture(scope="session")
def browser_artifacts() -> Path:
    """Where failed journeys keep their screenshots (git-ignored), one folder per test."""
    return PROJECT_ROOT / "test-artifacts" / "browser"


@pytest.fixture
def journey(
    request: pytest.FixtureRequest, browser: Browser, axe_source: str, browser_artifacts: Path
) -> Iterator[Journey]:
    """A journey whose screenshots are written to `browser_artifacts`/<test>/ if the test fails,
    and nowhere if it passes."""
    trip = Journey(browser, axe_source)
    try:
        yield trip
    finally:
        try:
            if _failed(request.node):
                trip.save(browser_artifacts / _slug(request.node.name))
        finally:
            trip.close()
