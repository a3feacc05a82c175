"""The journeys' safety nets themselves: a failed journey leaves its screenshots, numbered by
step, under the artefacts folder and a passing one leaves nothing; the accessibility check fails
on a serious violation, in a page under the desk's Content-Security-Policy (so that a page
passing it means something)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dsr.app import CONTENT_SECURITY_POLICY
from tests import processes
from tests.browser.journey import PROJECT_ROOT, Journey

INNER_CONFTEST = """
from pathlib import Path

import pytest

from tests.browser.journey import journey, pytest_runtest_makereport  # noqa: F401


@pytest.fixture(scope="session")
def browser():
    return None  # these journeys take no page


@pytest.fixture(scope="session")
def axe_source():
    return ""


@pytest.fixture(scope="session")
def browser_artifacts():
    return Path({artifacts!r})
"""

INNER_TESTS = """
def test_that_passes(journey):
    journey.steps.append(("public form", b"first"))


def test_that_fails(journey):
    journey.steps.append(("public form", b"first"))
    journey.steps.append(("status page", b"second"))
    assert False, "the journey went wrong"
"""


UNLABELLED_FORM = (
    '<!doctype html><html lang="en"><head><title>Form</title></head><body><main>'
    '<h1>Form</h1><form><input type="text" name="email"><button></button></form>'
    "</main></body></html>"
)


def test_a_failed_journey_keeps_its_screenshots_and_a_passing_one_nothing(
    tmp_path: Path,
) -> None:
    artifacts = tmp_path / "artifacts"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(INNER_CONFTEST.format(artifacts=str(artifacts)))
    (suite / "test_inner.py").write_text(INNER_TESTS)
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # start fast: the inner suite needs no plugin
    }
    run = processes.run(  # this interpreter, running pytest on the test's folder
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
        cwd=suite,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,  # a bound for a hang only: it usually takes a few seconds
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout, run.stdout
    assert sorted(p.relative_to(artifacts).as_posix() for p in artifacts.rglob("*")) == [
        "test-that-fails",
        "test-that-fails/01-public-form.png",
        "test-that-fails/02-status-page.png",
    ]
    assert (artifacts / "test-that-fails" / "02-status-page.png").read_bytes() == b"second"


def test_the_accessibility_check_fails_on_a_serious_violation(journey: Journey) -> None:
    page = journey.new_page()
    page.route(
        "http://desk.test/",
        lambda route: route.fulfill(
            body=UNLABELLED_FORM,
            content_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},  # the desk's, no script
        ),
    )
    page.goto("http://desk.test/")
    with pytest.raises(AssertionError) as failure:
        journey.step(page, "a form without labels")
    message = str(failure.value)
    assert "- label (critical): Form elements must have labels; at input" in message, message
    assert "button-name (critical)" in message, message
