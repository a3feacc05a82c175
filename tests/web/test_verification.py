"""Proving the address: the email's link asks to confirm (a GET changes nothing), the POST
verifies once, and expired, used or tampered links get a page that offers a new one."""

from __future__ import annotations

import html
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dsr.db import utcnow
from dsr.requests import views
from dsr.requests.workflow import Status
from tests.smtp_server import SmtpServer
from tests.web.conftest import (
    STATUS_LINK,
    VERIFY_LINK,
    csrf_token,
    file_request,
    follow_to_status,
    link_in,
    stored_requests,
    submit,
)


def _verify_path(client: FlaskClient, smtp_server: SmtpServer, **fields: str) -> str:
    before = len(smtp_server.messages)
    file_request(client, **fields)
    return link_in(smtp_server.wait_for(before + 1)[before].text, VERIFY_LINK)


def test_the_whole_path_from_form_to_status_page(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    path = _verify_path(client, smtp_server, email="zoe@example.org", request_type="erasure")
    assert "zoe" not in path and "example" not in path  # tokens only: no personal data

    confirm_page = client.get(path)
    assert confirm_page.status_code == 200
    assert "Confirm my email address" in confirm_page.get_data(as_text=True)
    assert confirm_page.headers["Cache-Control"] == "no-store"
    assert confirm_page.headers["Referrer-Policy"] == "no-referrer"
    [waiting] = stored_requests(app)
    assert waiting.status is Status.RECEIVED  # a mail scanner's GET changes nothing

    confirmed = submit(client, path, {})
    assert confirmed.status_code == 302
    status_path = confirmed.headers["Location"]
    assert status_path.startswith("/status/")
    [verified] = stored_requests(app)
    assert verified.status is Status.VERIFIED
    status_mail = smtp_server.wait_for(2)[1]
    assert status_mail.envelope_recipients == ("zoe@example.org",)
    assert link_in(status_mail.text, STATUS_LINK) == status_path

    page = client.get(status_path).get_data(as_text=True)
    assert "your email address is confirmed" in page
    assert verified.reference in page


def test_a_used_link_is_gone_and_offers_a_new_one(
    client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    path = _verify_path(client, smtp_server)
    assert submit(client, path, {}).status_code == 302
    again = submit(client, path, {})
    assert again.status_code == 410
    page = again.get_data(as_text=True)
    assert "This link has already been used" in page
    assert 'action="/resend"' in page


def test_a_tampered_link_is_a_400_page(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/fr")
    path = _verify_path(client, smtp_server)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    answered = submit(client, tampered, {})
    assert answered.status_code == 400
    assert "Ce lien n'est pas valable" in html.unescape(answered.get_data(as_text=True))
    for garbage in ("/verify/x", "/verify/" + "a" * 600):
        assert submit(client, garbage, {}).status_code == 400
    assert stored_requests(app)[0].status is Status.RECEIVED


def test_an_expired_link_is_gone_and_a_new_one_works(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.get("/lang/en")
    filed_at: datetime = utcnow() - timedelta(hours=48, minutes=1)
    with monkeypatch.context() as earlier:
        earlier.setattr(views, "_now", lambda: filed_at)
        path = _verify_path(client, smtp_server, email="zoe@example.org")
    expired = submit(client, path, {})
    assert expired.status_code == 410
    assert "Links are valid for 48 hours" in expired.get_data(as_text=True)
    assert stored_requests(app)[0].status is Status.RECEIVED

    resent = submit(client, "/resend", {"email": "Zoe@Example.org"})
    assert resent.status_code == 302
    assert resent.headers["Location"] == "/resend/sent"
    new_path = link_in(smtp_server.wait_for(2)[1].text, VERIFY_LINK)
    assert new_path != path
    assert submit(client, new_path, {}).status_code == 302
    assert stored_requests(app)[0].status is Status.VERIFIED


def test_asking_for_a_new_link_says_the_same_for_any_address(
    client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    file_request(client, email="zoe@example.org")
    smtp_server.wait_for(1)
    pages = []
    for email in ("zoe@example.org", "nobody@example.net"):
        answered = submit(client, "/resend", {"email": email})
        assert answered.status_code == 302
        pages.append(client.get(answered.headers["Location"]).get_data(as_text=True))
    assert pages[0] == pages[1]
    assert len(smtp_server.wait_for(2)) == 2  # only the known address got a new link


def test_the_new_link_form_validates_the_address(client: FlaskClient) -> None:
    client.get("/lang/en")
    answered = submit(client, "/resend", {"email": "not an address"})
    assert answered.status_code == 400
    assert "Enter a valid email address" in answered.get_data(as_text=True)


def test_confirming_needs_the_csrf_token(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    path = _verify_path(client, smtp_server)
    assert client.post(path).status_code == 400
    assert stored_requests(app)[0].status is Status.RECEIVED


def test_the_status_link_of_the_whole_path_works_in_a_new_browser(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    status_path = follow_to_status(client, smtp_server)
    elsewhere = app.test_client()
    assert elsewhere.get(status_path).status_code == 200
    assert csrf_token(elsewhere.get(status_path + "/cancel"))
