"""Property-based tests of the forms anyone can post, and of the staff search: whatever the
fields hold (any code point, lone surrogates that are not UTF-8, NUL, right-to-left overrides,
SQL and markup, values that make the body larger than MAX_CONTENT_LENGTH), the answer is never a
5xx, and a refused post (4xx) leaves every table of the store as it was.

Rate limits are off here so that the forms themselves, not the limiter, answer every example.
Generation is derandomized and writes no hypothesis database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from tests.accounts.helpers import StaffClientFactory
from tests.hostile.conftest import store_snapshot
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer, settle_background_work
from tests.web.conftest import follow_to_status

PROPERTY_SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates included
CRAFTED = st.sampled_from(
    [
        "",
        "\x00",
        "zoe\x00@example.org",
        "\u202eevil\u202c@example.org",
        "\ud800",
        "'; DROP TABLE dsr_request;--",
        "x'or'1'='1@example.org",
        "<script>alert(1)</script>",
        '=HYPERLINK("http://evil.example")',
        "zoe.lefevre@example.org",
        "access",
        "rectification",
        "fr",
        "en",
    ]
)


def _huge(app: Flask) -> st.SearchStrategy[str]:
    """Values around MAX_CONTENT_LENGTH: some bodies fit, some are over it."""
    limit = int(app.config["MAX_CONTENT_LENGTH"])
    return st.builds(
        lambda char, size: char * size,
        st.sampled_from(["a", "é", "\U0001f600", "\x00"]),
        st.integers(min_value=limit // 8, max_value=limit + 10),
    )


def _values(app: Flask) -> st.SearchStrategy[str]:
    return st.one_of(
        CRAFTED,
        st.text(ANY_CHARACTER, max_size=200),
        st.builds(lambda text: f"{text}@example.org", st.text(ANY_CHARACTER, max_size=40)),
        _huge(app),
    )


def _fields(app: Flask, names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional={name: _values(app) for name in names})


def _form_body(fields: dict[str, str]) -> bytes:
    """URL-encode the fields as a browser would, lone surrogates included (invalid UTF-8)."""
    return b"&".join(
        quote_from_bytes(name.encode()).encode()
        + b"="
        + quote_from_bytes(value.encode("utf-8", "surrogatepass")).encode()
        for name, value in fields.items()
    )


def _post(client: FlaskClient, path: str, csrf: str, fields: dict[str, str]) -> TestResponse:
    return client.post(
        path,
        data=_form_body({"csrf_token": csrf, **fields}),
        content_type="application/x-www-form-urlencoded",
    )


@pytest.fixture
def app_config() -> dict[str, Any]:
    """No rate limits: the forms themselves answer every example."""
    return {"RATELIMIT_ENABLED": False}


def _check_form(app: Flask, client: FlaskClient, path: str, names: list[str]) -> Callable[[], None]:
    csrf = csrf_token(client.get("/"))
    seen: set[int] = set()

    @PROPERTY_SETTINGS
    @given(fields=_fields(app, names))
    def check(fields: dict[str, str]) -> None:
        before = store_snapshot(app)
        answer = _post(client, path, csrf, fields)
        seen.add(answer.status_code)
        assert answer.status_code < 500, answer.get_data(as_text=True)
        if answer.status_code >= 400:
            assert store_snapshot(app) == before, f"a refused POST {path} changed the store"
        settle_background_work()  # its emails are composed before hypothesis draws again

    def run() -> None:
        check()
        assert any(code >= 400 for code in seen), seen  # the generator reaches refusals
        assert 413 in seen or path.startswith("/staff"), seen  # and bodies over the limit

    return run


def test_the_request_form_never_fails_and_refusals_store_nothing(
    app: Flask, client: FlaskClient
) -> None:
    names = ["email", "request_type", "language", "message", "rectification", "website"]
    _check_form(app, client, "/", names)()


def test_the_resend_form_never_fails_and_refusals_store_nothing(
    app: Flask, client: FlaskClient
) -> None:
    _check_form(app, client, "/resend", ["email"])()


def test_the_answer_form_never_fails_and_refusals_store_nothing(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    status_path = follow_to_status(client, smtp_server)
    _check_form(app, client, f"{status_path}/answer", ["message"])()


def test_the_login_form_never_fails(app: Flask, client: FlaskClient) -> None:
    csrf = csrf_token(client.get("/staff/login"))

    @PROPERTY_SETTINGS
    @given(fields=_fields(app, ["email", "password"]))
    def check(fields: dict[str, str]) -> None:
        answer = _post(client, "/staff/login", csrf, fields)
        assert answer.status_code < 500, answer.get_data(as_text=True)
        assert answer.status_code != 302  # nobody logs in with made-up credentials

    check()


def test_the_staff_search_never_fails(app: Flask, staff_client: StaffClientFactory) -> None:
    dpo = staff_client("dpo")
    csrf = csrf_token(dpo.get("/dashboard/"))

    @PROPERTY_SETTINGS
    @given(fields=_fields(app, ["query"]))
    def check(fields: dict[str, str]) -> None:
        before = store_snapshot(app)
        answer = _post(dpo, "/dashboard/search", csrf, fields)
        assert answer.status_code < 500, answer.get_data(as_text=True)
        if answer.status_code == 302:
            queue = dpo.get(answer.headers["Location"])
            assert queue.status_code == 200, queue.get_data(as_text=True)
        assert store_snapshot(app) == before  # a search is a read

    check()
