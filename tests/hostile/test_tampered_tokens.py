"""Tampered links, tokens and cookies are refused with a clear 4xx page (or the login page), never
a 5xx, and change nothing; the genuine one still works after, so nothing was used up.

Each token is tampered by changing one character at a quarter, half and three quarters of its
length (never the last character, whose low bits base64 may ignore, nor a separator).
Expired links are covered elsewhere: the verification link (tests/web/test_verification.py::
test_an_expired_link_is_gone_and_a_new_one_works), the download link (tests/delivery/
test_delivery.py::test_an_expired_link_answers_410), the session (tests/accounts/test_login.py::
test_an_idle_session_expires) and the password reset link (tests/accounts/test_staff_pages.py::
test_reset_links_expire_and_cannot_be_forged).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from dsr import db
from dsr.api.models import ApiToken
from dsr.delivery.models import DeliveryMethod, DownloadLink, Report, ReportKind
from dsr.execution.change_records import ErasureCertificate
from dsr.requests.workflow import Status
from dsr.tokens import token_digest
from tests.accounts.helpers import StaffClientFactory
from tests.factories import make_request
from tests.hostile.conftest import store_snapshot
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.web.conftest import (
    VERIFY_LINK,
    file_request,
    follow_to_status,
    link_in,
    stored_requests,
    submit,
)

SEPARATORS = ".-_"


def tampered(token: str) -> list[str]:
    """Return `token` with one character changed, at a quarter, half and three quarters."""
    variants = []
    for fraction in (0.25, 0.5, 0.75):
        index = int(len(token) * fraction)
        while token[index] in SEPARATORS:
            index += 1
        assert index < len(token) - 1
        swap = "B" if token[index] == "A" else "A"
        variants.append(token[:index] + swap + token[index + 1 :])
    return variants


def _english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def assert_clear_refusal(answer: TestResponse, status: int, words: str) -> None:
    page = answer.get_data(as_text=True)
    assert answer.status_code == status, page
    assert words in page


def test_a_tampered_verification_link_is_refused_and_the_real_one_still_works(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    _english(client)
    assert file_request(client).status_code == 302
    path = link_in(smtp_server.wait_for(1)[0].text, VERIFY_LINK)
    token = path.rsplit("/", 1)[1]
    before = store_snapshot(app)
    for bad in tampered(token):
        assert client.get(f"/verify/{bad}").status_code == 200  # the confirm page, nothing done
        assert_clear_refusal(submit(client, f"/verify/{bad}", {}), 400, "This link is not valid")
    assert store_snapshot(app) == before
    assert submit(client, path, {}).status_code == 302
    assert stored_requests(app)[0].status is Status.VERIFIED


def test_a_tampered_status_link_is_not_found_and_cannot_cancel_or_answer(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    _english(client)
    path = follow_to_status(client, smtp_server)
    token = path.rsplit("/", 1)[1]
    csrf = csrf_token(client.get("/"))
    before = store_snapshot(app)
    for bad in tampered(token):
        assert_clear_refusal(client.get(f"/status/{bad}"), 404, "Page not found")
        for action, data in (("cancel", {}), ("answer", {"answer": "Here."})):
            refused = client.post(f"/status/{bad}/{action}", data={"csrf_token": csrf, **data})
            assert_clear_refusal(refused, 404, "Page not found")
    assert store_snapshot(app) == before
    assert client.get(path).status_code == 200


def _genuine_request(app: Flask) -> int:
    with db.transaction(db.get_engine(app)) as session:
        request = make_request(session, status=Status.COMPLETED)
    assert request.id is not None
    return request.id


def test_a_tampered_certificate_link_is_not_found(app: Flask, tmp_path: Path) -> None:
    request_id = _genuine_request(app)
    certificate = tmp_path / "certificate.pdf"
    certificate.write_bytes(b"%PDF-1.4 a certificate")
    token = secrets.token_urlsafe(32)
    with db.transaction(db.get_engine(app)) as session:
        session.add(
            ErasureCertificate(
                request_id=request_id,
                path=str(certificate),
                token_hash=token_digest(token),
                created_at=db.utcnow(),
            )
        )
    client = _english(app.test_client())
    for bad in tampered(token):
        assert_clear_refusal(client.get(f"/certificate/{bad}"), 404, "Page not found")
    genuine = client.get(f"/certificate/{token}")
    assert genuine.status_code == 200 and genuine.data.startswith(b"%PDF")
    genuine.close()


def test_a_tampered_download_link_is_not_found_and_sends_no_code(
    app: Flask, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    request_id = _genuine_request(app)
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 a report")
    token = secrets.token_urlsafe(32)
    now = db.utcnow()
    with db.transaction(db.get_engine(app)) as session:
        session.add(
            Report(
                request_id=request_id,
                kind=ReportKind.PDF,
                path=str(report),
                size=report.stat().st_size,
                sha256="0" * 64,
                created_at=now,
                expires_at=now + timedelta(days=7),
                downloads_left=3,
            )
        )
        session.add(
            DownloadLink(
                request_id=request_id,
                token_hash=token_digest(token),
                method=DeliveryMethod.LINK,
                created_at=now,
                expires_at=now + timedelta(days=7),
            )
        )
    client = _english(app.test_client())
    csrf = csrf_token(client.get("/"))
    before = store_snapshot(app)
    for bad in tampered(token):
        assert_clear_refusal(client.get(f"/download/{bad}"), 404, "Page not found")
        asked = client.post(f"/download/{bad}/code", data={"csrf_token": csrf})
        assert_clear_refusal(asked, 404, "Page not found")
        given = client.post(f"/download/{bad}", data={"csrf_token": csrf, "code": "123456"})
        assert_clear_refusal(given, 404, "Page not found")
        assert_clear_refusal(client.get(f"/download/{bad}/files/pdf"), 404, "Page not found")
    assert store_snapshot(app) == before
    assert smtp_server.messages == []
    assert client.get(f"/download/{token}").status_code == 200


def test_a_tampered_api_token_is_a_401_problem_and_stores_nothing(app: Flask) -> None:
    with db.transaction(db.get_engine(app)) as session:
        row, token = ApiToken.issue("learner-platform", now=db.utcnow())
        session.add(row)
    client = app.test_client()
    body = {
        "subject_request_type": "access",
        "subject_identities": {"email": "zoe.lefevre@example.org"},
        "language": "en",
    }
    before = store_snapshot(app)
    for bad in tampered(token):
        headers = {"Authorization": f"Bearer {bad}"}
        for answer in (
            client.get("/api/v1/client", headers=headers),
            client.post("/api/v1/requests", json=body, headers=headers),
        ):
            assert answer.status_code == 401
            assert answer.mimetype == "application/problem+json"
    assert store_snapshot(app) == before
    genuine = client.get("/api/v1/client", headers={"Authorization": f"Bearer {token}"})
    assert genuine.status_code == 200


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
def test_a_tampered_session_cookie_is_logged_out_and_changes_nothing(
    app: Flask, staff_client: StaffClientFactory, fraction: float
) -> None:
    admin = _english(staff_client("admin"))
    csrf = csrf_token(admin.get("/staff/accounts"))
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    cookie = admin.get_cookie(cookie_name)
    assert cookie is not None
    bad = tampered(cookie.value)[[0.25, 0.5, 0.75].index(fraction)]
    admin.set_cookie(cookie_name, bad, domain=cookie.domain, path=cookie.path)
    before = store_snapshot(app)
    page = admin.get("/dashboard/")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/staff/login")
    invited = admin.post(
        "/staff/accounts/invite",
        data={"csrf_token": csrf, "email": "intruder@example.org", "role": "admin"},
    )
    assert 400 <= invited.status_code < 500
    assert store_snapshot(app) == before
