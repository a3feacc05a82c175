"""Which requests Flask-Limiter is told no limit counts (`uncounted_request`)."""

from __future__ import annotations

import pytest
from flask import Flask

from dsr.extensions import uncounted_request


@pytest.mark.parametrize(
    ("method", "path", "uncounted"),
    [
        ("GET", "/", True),  # the form's limits count its POSTs only
        ("HEAD", "/", True),
        ("POST", "/", False),
        ("GET", "/resend", True),
        ("POST", "/resend", False),
        ("GET", "/api/v1/openapi.json", False),  # the API blueprint's limit counts every method
        ("GET", "/no-such-page", False),
    ],
)
def test_a_request_is_uncounted_only_when_no_limit_names_its_method(
    app: Flask, method: str, path: str, uncounted: bool
) -> None:
    with app.test_request_context(path, method=method):
        assert uncounted_request() is uncounted
        assert uncounted_request() is uncounted  # the kept answer


def test_a_limit_manager_that_answers_otherwise_leaves_every_request_counted(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The filter asks Flask-Limiter's limit manager, not its documented interface: should a
    release drop or reshape what it asks, requests are counted as before, not let through."""
    from dsr.extensions import limiter

    class Reshaped:
        application_limits = ()
        default_limits = ()

    monkeypatch.setattr(limiter, "limit_manager", Reshaped())
    with app.test_request_context("/", method="GET"):
        assert uncounted_request() is False
