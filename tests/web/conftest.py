"""Fixtures of the learner's side: the app on an upgraded SQLite store, its test client, a real
SMTP server on loopback that receives its mail, and a helper that fills in forms like a browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select
from werkzeug.test import TestResponse

from dsr import db
from dsr.app import create_app
from dsr.requests.models import DataRequest
from tests.smtp_server import SmtpServer, smtp_server

__all__ = ["smtp_server"]

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
VERIFY_LINK = re.compile(r"http://localhost(/verify/[A-Za-z0-9._-]+)")
STATUS_LINK = re.compile(r"http://localhost(/status/[A-Za-z0-9._-]+)")

MakeApp = Callable[..., Flask]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A SQLite store of this test alone, upgraded to the newest revision."""
    url = f"sqlite:///{(tmp_path / 'store.sqlite3').as_posix()}"
    db.run_migrations(url)
    return url


@pytest.fixture
def make_app(store_url: str, smtp_server: SmtpServer) -> Iterator[MakeApp]:
    """Create the app on the test's store and SMTP server; settings can be overridden."""
    apps: list[Flask] = []

    def make(**settings: Any) -> Flask:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": store_url,
                "SECRET_KEY": "a secret for the tests only",
                "SMTP_HOST": smtp_server.host,
                "SMTP_PORT": smtp_server.port,
                "MAIL_SENDER": "privacy@example.org",
                "PUBLIC_URL": "http://localhost",
                **settings,
            }
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        db.get_engine(app).dispose()


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(page: TestResponse) -> str:
    """Return the CSRF token of the first form on `page`."""
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def submit(client: FlaskClient, path: str, data: dict[str, str], **kwargs: Any) -> TestResponse:
    """Load the page at `path`, then post `data` with the page's CSRF token, as a browser does."""
    token = csrf_token(client.get(path))
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def file_request(
    client: FlaskClient,
    email: str = "zoe.lefevre@example.org",
    request_type: str = "access",
    **fields: str,
) -> TestResponse:
    """File a request through the form; return the response to the POST (a redirect)."""
    data = {"email": email, "request_type": request_type, "language": "en", **fields}
    return submit(client, "/", data)


def link_in(text: str, pattern: re.Pattern[str]) -> str:
    """Return the path of the first link matching `pattern` in an email's text."""
    found = pattern.search(text)
    assert found is not None, f"no link matching {pattern.pattern} in the email"
    return found.group(1)


def stored_requests(app: Flask) -> list[DataRequest]:
    """Return every request in the app's store, oldest first."""
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(DataRequest).order_by(col(DataRequest.id))).all())


def follow_to_status(client: FlaskClient, smtp_server: SmtpServer, **request_fields: str) -> str:
    """File a request, click the link of its email and confirm; return the status page's path."""
    before = len(smtp_server.messages)
    assert file_request(client, **request_fields).status_code == 302
    verification = smtp_server.wait_for(before + 1)[before]
    confirmed = submit(client, link_in(verification.text, VERIFY_LINK), {})
    assert confirmed.status_code == 302
    location = confirmed.headers["Location"]
    status_mail = smtp_server.wait_for(before + 2)[before + 1]
    assert link_in(status_mail.text, STATUS_LINK) == location
    return location
