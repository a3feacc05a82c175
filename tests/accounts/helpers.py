"""Staff for tests: `make_staff` adds an account to a store, `login` logs a test client in through
the real pages, and the `staff_client` fixture gives a client logged in with a given role.

Use them from another test package by importing the fixture into its conftest.py (it logs in to
the suite's `app`, tests/conftest.py):

    from tests.accounts.helpers import staff_client  # noqa: F401

then `def test_x(staff_client: StaffClientFactory) -> None: client = staff_client("dpo")`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from werkzeug.test import TestResponse

from dsr import db
from dsr.accounts import service
from dsr.accounts import totp as second_factor
from dsr.accounts.models import StaffRole, StaffUser
from tests.pages import csrf_token

TEST_SECRET_KEY = "a secret for the tests only"
"""The SECRET_KEY of the tests' apps (tests/conftest.py): it also encrypts TOTP secrets."""

STAFF_PASSWORD = "correct horse battery staple"

_numbers = itertools.count(1)

StaffClientFactory = Callable[..., FlaskClient]


@functools.cache
def _hashed(password: str) -> str:
    """Hash each test password once: argon2 is slow on purpose."""
    return service.hash_password(password)


def make_staff(
    session_or_engine: Session | Engine,
    *,
    role: StaffRole | str,
    email: str | None = None,
    password: str = STAFF_PASSWORD,
    totp: bool = False,
    name: str = "",
    active: bool = True,
    secret_key: str = TEST_SECRET_KEY,
) -> StaffUser:
    """Add a staff account that can log in with `password` (and a TOTP code when
    `totp`: see `totp_code`). With a session it is flushed; with an engine, committed."""
    now = db.utcnow()
    user = StaffUser(
        email=(email or f"staff{next(_numbers)}@example.org").lower(),
        name=name,
        role=StaffRole(role),
        password_hash=_hashed(password),
        password_changed_at=now,
        active=active,
        created_at=now,
    )
    if totp:
        user.totp_secret = second_factor.secret_box(secret_key).seal(second_factor.new_secret())
        user.totp_enabled = True
    if isinstance(session_or_engine, Session):
        session_or_engine.add(user)
        session_or_engine.flush()
        return user
    with db.transaction(session_or_engine) as session:
        session.add(user)
    return user


def totp_code(
    user: StaffUser, *, at: datetime | None = None, secret_key: str = TEST_SECRET_KEY
) -> str:
    """Return the code the user's authenticator app shows at `at` (now by default).

    A code is accepted once: for a second login in the same 30 seconds, pass `at` one step
    later (`db.utcnow() + timedelta(seconds=30)`), which is still accepted.
    """
    assert user.totp_secret is not None, "this account has no second factor"
    secret = second_factor.secret_box(secret_key).open(user.totp_secret)
    assert secret is not None
    return second_factor.code_at(secret, at or db.utcnow())


def login(
    client: FlaskClient, email: str, password: str = STAFF_PASSWORD, totp_code: str | None = None
) -> TestResponse:
    """Log in through the login page (and the code page when `totp_code` is given); return the
    last response: a redirect on success, the form again on failure."""
    token = csrf_token(client.get("/staff/login"))
    response = client.post(
        "/staff/login", data={"csrf_token": token, "email": email, "password": password}
    )
    if totp_code is None or response.headers.get("Location") != "/staff/login/code":
        return response
    token = csrf_token(client.get("/staff/login/code"))
    return client.post("/staff/login/code", data={"csrf_token": token, "code": totp_code})


def post_form(
    client: FlaskClient, path: str, data: dict[str, str], *, form_page: str | None = None
) -> TestResponse:
    """Post `data` to `path` with a CSRF token read from `form_page` (default: `path`)."""
    token = csrf_token(client.get(form_page or path))
    return client.post(path, data={"csrf_token": token, **data})


@pytest.fixture
def staff_client(app: Flask) -> StaffClientFactory:
    """Return a factory: `staff_client("dpo")` is a new test client logged in as a new staff
    member of that role (keyword arguments go to `make_staff`); `.staff` is the account."""

    def make(role: StaffRole | str, **staff_fields: object) -> FlaskClient:
        user = make_staff(db.get_engine(app), role=role, **staff_fields)  # type: ignore[arg-type]
        client = app.test_client()
        code = None
        if user.totp_enabled:
            code = totp_code(user, at=db.utcnow() + timedelta(seconds=30))
        response = login(client, user.email, totp_code=code)
        assert response.status_code == 302, "the test staff member could not log in"
        client.staff = user  # type: ignore[attr-defined]
        return client

    return make
