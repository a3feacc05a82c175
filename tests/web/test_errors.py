"""Error pages: each 4xx (and a 500) is a page in the visitor's language that says what to do,
never a stack trace, and a failed request stores nothing."""

from __future__ import annotations

import html

import pytest
from flask import Flask, abort

from dsr.accounts.access import public_endpoint
from dsr.errors import ERROR_PAGES
from tests.conftest import MakeApp
from tests.web.conftest import stored_requests


@pytest.fixture
def app_with_errors(make_app: MakeApp) -> Flask:
    """The app with a public route that fails with any status code, or with a bug."""
    app = make_app()

    @app.get("/fail/<int:code>")
    @public_endpoint
    def fail(code: int) -> str:
        abort(code)

    @app.get("/bug")
    @public_endpoint
    def bug() -> str:
        raise RuntimeError("a bug, with a secret: zoe@example.org")

    return app


@pytest.mark.parametrize("code", [400, 403, 404, 405, 410, 413, 429, 500])
def test_every_error_page_exists_in_both_languages(app_with_errors: Flask, code: int) -> None:
    client = app_with_errors.test_client()
    english = client.get(f"/fail/{code}", headers={"Accept-Language": "en"})
    french = client.get(f"/fail/{code}", headers={"Accept-Language": "fr"})
    assert english.status_code == french.status_code == code
    title, explanation = ERROR_PAGES[code]
    english_page = html.unescape(english.get_data(as_text=True))
    french_page = html.unescape(french.get_data(as_text=True))
    assert str(title) in english_page and str(explanation) in english_page
    assert f"Error {code}" in english_page
    assert str(title) not in french_page
    assert f"Erreur {code}" in french_page
    assert '<html lang="fr">' in french_page


def test_a_bug_is_a_500_page_that_shows_nothing_of_it(app_with_errors: Flask) -> None:
    app_with_errors.testing = False  # let Flask turn the exception into a 500, as in production
    answered = app_with_errors.test_client().get("/bug", headers={"Accept-Language": "en"})
    assert answered.status_code == 500
    page = answered.get_data(as_text=True)
    assert "Something went wrong on our side" in page
    assert "secret" not in page and "RuntimeError" not in page


def test_a_multipart_body_that_is_not_utf8_is_a_400(make_app: MakeApp) -> None:
    app = make_app(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="email"\r\n\r\n'
        "zo\xe9@example.org\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="request_type"\r\n\r\n'
        "access\r\n"
        f"--{boundary}--\r\n"
    ).encode("latin-1")
    answered = client.post(
        "/",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Accept-Language": "en"},
    )
    assert answered.status_code == 400
    assert "not sent as UTF-8" in answered.get_data(as_text=True)
    assert stored_requests(app) == []
