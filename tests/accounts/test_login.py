"""Logging in: password, second factor, throttling, sessions that expire, logout, CSRF and safe
redirects after login."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select
from werkzeug.test import TestResponse

from dsr import db
from dsr.accounts.access import LOGIN_AT_KEY, SEEN_KEY
from dsr.accounts.models import StaffRecoveryCode, StaffRole, StaffUser
from dsr.accounts.service import replace_recovery_codes
from dsr.accounts.views import home_url, safe_next
from tests.accounts.helpers import (
    STAFF_PASSWORD,
    csrf_token,
    login,
    make_staff,
    totp_code,
)
from tests.conftest import MakeApp

LOGIN_FAILED = "The email address or the password is not right"


def _text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def _error_of(response: TestResponse) -> str:
    """Return the form's error message of a login page."""
    found = re.search(r'<div class="flash error" role="alert">(.*?)</div>', _text(response), re.S)
    assert found is not None, "no error message on the page"
    return " ".join(found.group(1).split())


def _stored(app: Flask, user: StaffUser) -> StaffUser:
    with db.open_session(db.get_engine(app)) as session:
        stored = session.get(StaffUser, user.id)
        assert stored is not None
        return stored


def _home(app: Flask) -> str:
    """Where a login lands: the dashboard's queue when the app has it, else the account page."""
    with app.test_request_context():
        return home_url()


def _english(client: FlaskClient) -> None:
    with client.session_transaction() as session:
        session["lang"] = "en"


def test_a_password_login_opens_the_account_page(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo", email="Camille@Example.org")
    response = login(client, "camille@example.org ")
    assert response.status_code == 302
    assert response.headers["Location"] == _home(app)
    page = client.get("/staff/")
    assert page.status_code == 200
    assert "camille@example.org" in _text(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert _stored(app, user).last_login_at is not None


def test_the_session_cookie_is_secure_http_only_and_same_site(
    app: Flask, client: FlaskClient
) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    cookie = login(client, user.email).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # a permanent session, bounded by PERMANENT_SESSION_LIFETIME


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(
    app: Flask, client: FlaskClient
) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    _english(client)
    wrong = login(client, user.email, "not the right password")
    unknown = login(client, "nobody@example.org", "not the right password")
    assert wrong.status_code == unknown.status_code == 200
    assert _error_of(wrong) == _error_of(unknown)
    assert LOGIN_FAILED in _error_of(wrong)
    assert client.get("/staff/").status_code == 302  # still anonymous
    assert _stored(app, user).failed_login_count == 1


class Clock:
    """The login pages' clock, moved by the test instead of waiting."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = db.utcnow()
        monkeypatch.setattr("dsr.accounts.views._now", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def _from(client: FlaskClient, address: str) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_five_failures_make_this_address_wait_with_the_same_message_as_an_unknown_address(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    _english(client)
    for _ in range(5):
        login(client, user.email, "not the right password")
    waiting = login(client, user.email)  # the right password, refused during the wait
    unknown = login(client, "nobody@example.org")
    assert waiting.status_code == unknown.status_code == 200
    assert _error_of(waiting) == _error_of(unknown)
    assert LOGIN_FAILED in _error_of(waiting)
    assert client.get("/staff/").status_code == 302

    clock.advance(seconds=61)  # the first wait is one minute
    assert login(client, user.email).status_code == 302
    assert _stored(app, user).failed_login_count == 0
    assert _stored(app, user).locked_until is None


def test_failures_from_other_addresses_never_keep_the_staff_member_out(
    app: Flask, clock: Clock
) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    for number in range(8):
        attacker = _from(app.test_client(), f"203.0.113.{number + 1}")
        for _ in range(5):
            assert login(attacker, user.email, "a guess").status_code == 200
        assert login(attacker, user.email).status_code == 200  # even they wait, not the account
    assert _stored(app, user).failed_login_count == 40
    owner = _from(app.test_client(), "198.51.100.20")
    assert login(owner, user.email).status_code == 302


def test_the_wait_doubles_with_each_failure_past_five(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    for _ in range(5):
        login(client, user.email, "a guess")
    for wait in (60, 120, 240, 480):
        clock.advance(seconds=wait - 2)
        assert login(client, user.email).status_code == 200  # still waiting: not even checked
        clock.advance(seconds=3)
        assert login(client, user.email, "another guess").status_code == 200  # counted
    clock.advance(seconds=959)
    assert login(client, user.email).status_code == 200
    clock.advance(seconds=2)
    assert login(client, user.email).status_code == 302


def test_many_failures_from_one_address_make_it_wait_for_every_account(
    make_app: MakeApp, clock: Clock
) -> None:
    app = make_app(STAFF_LOGIN_MAX_FAILURES_PER_ADDRESS=3)
    user = make_staff(db.get_engine(app), role="dpo")
    guesser = app.test_client()
    _english(guesser)
    for number in range(3):
        login(guesser, f"guess{number}@example.org", "a guess")
    refused = login(guesser, user.email)
    assert refused.status_code == 200 and LOGIN_FAILED in _error_of(refused)
    assert login(_from(app.test_client(), "198.51.100.20"), user.email).status_code == 302
    clock.advance(seconds=61)
    assert login(guesser, user.email).status_code == 302


def test_logins_are_limited_per_client_address(make_app: MakeApp) -> None:
    app = make_app(STAFF_LOGIN_LIMIT_PER_ADDRESS="3/hour")
    make_staff(db.get_engine(app), role="dpo", email="someone@example.org")
    client = app.test_client()
    for number in range(3):
        assert login(client, f"guess{number}@example.org", "a guess").status_code == 200
    limited = login(client, "someone@example.org")
    assert limited.status_code == 429
    assert client.get("/staff/login").status_code == 200  # reading the form is not limited


def test_a_missing_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    client.get("/staff/login")
    response = client.post("/staff/login", data={"email": user.email, "password": STAFF_PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302


def test_login_starts_a_new_session(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    client.get("/staff/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["lang"] = "en"
        token_before = session["csrf_token"]
    assert login(client, user.email).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["lang"] == "en"  # the visitor's language is kept
        assert session.get("csrf_token") != token_before


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/staff/",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\tx",
        "",
    ],
)
def test_next_never_leads_to_another_site(target: str) -> None:
    assert safe_next(target) is None


def test_next_leads_back_to_the_page_asked_for(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    asked = client.get("/staff/account/password?x=1")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/staff/login?next=/staff/account/password?x%3D1"
    page = client.get(asked.headers["Location"])
    token = csrf_token(page)
    response = client.post(
        "/staff/login",
        data={
            "csrf_token": token,
            "email": user.email,
            "password": STAFF_PASSWORD,
            "next": "/staff/account/password?x=1",
        },
    )
    assert response.headers["Location"] == "/staff/account/password?x=1"


def test_an_open_redirect_in_next_is_refused(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    token = csrf_token(client.get("/staff/login?next=//evil.example/"))
    response = client.post(
        "/staff/login?next=//evil.example/",
        data={"csrf_token": token, "email": user.email, "password": STAFF_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == _home(app)


# --- second factor ------------------------------------------------------------------------------


def test_a_totp_login_needs_the_code(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo", totp=True)
    response = login(client, user.email)
    assert response.headers["Location"] == "/staff/login/code"
    assert client.get("/staff/").status_code == 302  # the password alone is not enough

    _english(client)
    token = csrf_token(client.get("/staff/login/code"))
    wrong = client.post("/staff/login/code", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 200
    assert "This code is not right" in _text(wrong)
    assert _stored(app, user).failed_login_count == 1

    right = client.post("/staff/login/code", data={"csrf_token": token, "code": totp_code(user)})
    assert right.status_code == 302 and right.headers["Location"] == _home(app)
    assert client.get("/staff/").status_code == 200


def test_a_totp_code_cannot_be_used_twice(app: Flask) -> None:
    user = make_staff(db.get_engine(app), role="dpo", totp=True)
    code = totp_code(user)
    assert login(app.test_client(), user.email, totp_code=code).status_code == 302
    replayed = login(app.test_client(), user.email, totp_code=code)
    assert replayed.status_code == 200


def test_the_code_page_needs_a_checked_password(client: FlaskClient) -> None:
    response = client.get("/staff/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"


def test_wrong_codes_make_this_address_wait(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo", totp=True)
    login(client, user.email)
    token = csrf_token(client.get("/staff/login/code"))
    for _ in range(5):
        response = client.post("/staff/login/code", data={"csrf_token": token, "code": "000000"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert _stored(app, user).locked_until is None
    assert login(client, user.email, totp_code=totp_code(user)).status_code == 200
    elsewhere = _from(app.test_client(), "198.51.100.20")
    assert login(elsewhere, user.email, totp_code=totp_code(user)).status_code == 302


def test_a_recovery_code_works_once(app: Flask) -> None:
    user = make_staff(db.get_engine(app), role="dpo", totp=True)
    with db.transaction(db.get_engine(app)) as session:
        stored = session.get(StaffUser, user.id)
        assert stored is not None
        codes = replace_recovery_codes(db_session=session, user=stored)
    assert len(codes) == 10 and len(set(codes)) == 10
    typed = codes[3].upper().replace("-", " ")  # as someone may type it
    first = login(app.test_client(), user.email, totp_code=typed)
    assert first.status_code == 302
    again = login(app.test_client(), user.email, totp_code=codes[3])
    assert again.status_code == 200
    with db.open_session(db.get_engine(app)) as session:
        rows = session.exec(select(StaffRecoveryCode)).all()
    assert sum(row.used_at is not None for row in rows) == 1
    assert codes[3] not in {row.code_hash for row in rows}  # stored as digests only


def test_enrolment_shows_a_qr_code_and_gives_recovery_codes_once(
    app: Flask, client: FlaskClient
) -> None:
    user = make_staff(db.get_engine(app), role="auditor")
    login(client, user.email)
    _english(client)
    page = client.get("/staff/account/totp")
    assert page.status_code == 200
    body = _text(page)
    assert "<svg" in body and "<script" not in body
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', body)
    assert secret is not None
    assert client.get("/staff/account/totp").get_data(as_text=True).count(secret.group(1)) == 1
    stored = _stored(app, user)
    assert stored.totp_secret is not None and secret.group(1) not in stored.totp_secret

    from dsr.accounts import totp as second_factor

    code = second_factor.code_at(secret.group(1), db.utcnow())
    token = csrf_token(page)
    wrong = client.post("/staff/account/totp", data={"csrf_token": token, "code": "123456"})
    assert wrong.status_code == 200 and "This code is not right" in _text(wrong)
    confirmed = client.post("/staff/account/totp", data={"csrf_token": token, "code": code})
    assert confirmed.status_code == 200  # an auditor may set up their own second factor
    assert confirmed.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", _text(confirmed))
    assert len(codes) == 10
    assert _stored(app, user).totp_enabled
    again = _text(client.get("/staff/account/totp"))
    assert "10 unused recovery codes" in again
    assert not any(code in again for code in codes)


def test_required_totp_sends_staff_to_enrolment(make_app: MakeApp) -> None:
    app = make_app(TOTP_REQUIRED=True)
    user = make_staff(db.get_engine(app), role="admin")
    client = app.test_client()
    response = login(client, user.email)
    assert response.headers["Location"] == "/staff/account/totp"
    assert client.get("/staff/").headers["Location"] == "/staff/account/totp"
    assert client.get("/staff/accounts").headers["Location"] == "/staff/account/totp"
    assert client.get("/staff/account/totp").status_code == 200

    with_totp = make_staff(db.get_engine(app), role="admin", totp=True)
    other = app.test_client()
    assert login(other, with_totp.email, totp_code=totp_code(with_totp)).status_code == 302
    assert other.get("/staff/accounts").status_code == 200


# --- sessions -----------------------------------------------------------------------------------


def test_an_idle_session_expires(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    login(client, user.email)
    with client.session_transaction() as session:
        session[SEEN_KEY] -= 29 * 60
    assert client.get("/staff/").status_code == 200  # 29 minutes idle: still open
    with client.session_transaction() as session:
        session[SEEN_KEY] -= 31 * 60
    expired = client.get("/staff/")
    assert expired.status_code == 302 and expired.headers["Location"].startswith("/staff/login")
    assert client.get("/staff/").status_code == 302


def test_a_session_ends_after_its_lifetime_even_when_used(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    login(client, user.email)
    with client.session_transaction() as session:
        session[LOGIN_AT_KEY] -= 8 * 3600 + 1
    assert client.get("/staff/").status_code == 302


def test_logout_ends_the_session_and_copies_of_its_cookie(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="auditor")
    login(client, user.email)
    page = client.get("/staff/")
    stolen = client.get_cookie("session")
    assert stolen is not None
    response = client.post("/staff/logout", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login"
    assert client.get("/staff/").status_code == 302
    client.set_cookie("session", stolen.value)
    assert client.get("/staff/").status_code == 302


def test_a_deactivated_account_is_logged_out(app: Flask, client: FlaskClient) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    login(client, user.email)
    with db.transaction(db.get_engine(app)) as session:
        stored = session.get(StaffUser, user.id)
        assert stored is not None
        stored.active = False
    assert client.get("/staff/").status_code == 302
    assert login(client, user.email).status_code == 200


def test_changing_the_password_keeps_this_session_and_ends_the_others(app: Flask) -> None:
    user = make_staff(db.get_engine(app), role=StaffRole.AUDITOR)
    here, elsewhere = app.test_client(), app.test_client()
    login(here, user.email)
    login(elsewhere, user.email)
    new_password = "a brand new passphrase"
    weak = here.post(
        "/staff/account/password",
        data={
            "csrf_token": csrf_token(here.get("/staff/account/password")),
            "current_password": STAFF_PASSWORD,
            "password": "short",
            "confirmation": "short",
        },
    )
    assert weak.status_code == 400
    changed = here.post(
        "/staff/account/password",
        data={
            "csrf_token": csrf_token(here.get("/staff/account/password")),
            "current_password": STAFF_PASSWORD,
            "password": new_password,
            "confirmation": new_password,
        },
    )
    assert changed.status_code == 302
    assert here.get("/staff/").status_code == 200
    assert elsewhere.get("/staff/").status_code == 302
    assert login(app.test_client(), user.email).status_code == 200
    assert login(app.test_client(), user.email, new_password).status_code == 302
