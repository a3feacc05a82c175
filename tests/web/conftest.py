"""Helpers of the learner's side (the app, its client and the SMTP server are the suite's
fixtures, tests/conftest.py): filling in forms like a browser, following the emails' links."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select
from werkzeug.test import TestResponse

from dsr import db
from dsr.links import DEVELOPMENT_PUBLIC_URL
from dsr.requests.models import DataRequest
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer

PUBLIC = re.escape(DEVELOPMENT_PUBLIC_URL)  # links start with it, whatever Host was asked
VERIFY_LINK = re.compile(PUBLIC + r"(/verify/[A-Za-z0-9._-]+)")
STATUS_LINK = re.compile(PUBLIC + r"(/status/[A-Za-z0-9._-]+)")


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
