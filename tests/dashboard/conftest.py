"""Fixtures of the dashboard tests: the app's settings for staff pages, staff members, and the
signer of the requester's links (the store is the suite's; requests: tests/factories.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from werkzeug.test import TestResponse

from dsr import db
from dsr.accounts.models import StaffRole, StaffUser
from dsr.accounts.service import hash_password
from dsr.audit.models import RequestEvent
from dsr.outbox.models import OutboxMessage
from dsr.requests.service import LinkSigner
from tests.factories import RECEIVED_AT

NOW = RECEIVED_AT + timedelta(days=5)

LINKS = LinkSigner(
    "a-test-secret-key",
    verify_url=lambda token: f"https://desk.example/verify/{token}",
    status_url=lambda token: f"https://desk.example/status/{token}",
)


def add_staff(
    session: Session, email: str, role: StaffRole = StaffRole.DPO, *, active: bool = True
) -> StaffUser:
    """Add a staff member (without a password: tests of operations do not log in)."""
    user = StaffUser(email=email, name="", role=role, active=active, created_at=RECEIVED_AT)
    session.add(user)
    session.flush()
    return user


def counts(engine: Engine, request_id: int | None) -> tuple[int, int]:
    """The request's audit events and queued emails."""
    with db.open_session(engine) as session:
        events = session.exec(
            select(func.count())
            .select_from(RequestEvent)
            .where(RequestEvent.request_id == request_id)
        ).one()
        mails = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.request_id == request_id)
        ).one()
        return int(events), int(mails)


# --- the web application ------------------------------------------------------------------------

PASSWORD = "a long enough password for the tests"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Staff pages over plain HTTP; approval does not run the request (tests/delivery does)."""
    return {"SESSION_COOKIE_SECURE": False, "EXECUTE_AFTER_APPROVAL": False}


def app_engine(app: Flask) -> Engine:
    return db.get_engine(app)


def create_staff(app: Flask, email: str, role: StaffRole) -> int:
    """Add an active staff member with PASSWORD; return their id."""
    with db.transaction(app_engine(app)) as session:
        user = StaffUser(
            email=email,
            role=role,
            password_hash=hash_password(PASSWORD),
            created_at=RECEIVED_AT,
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


def csrf_token(page: TestResponse) -> str:
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def logged_in(app: Flask, email: str, role: StaffRole = StaffRole.DPO) -> FlaskClient:
    """Return a test client logged in, through the login page, as a new staff member."""
    create_staff(app, email, role)
    client = app.test_client()
    page = client.get("/staff/login")
    answer = client.post(
        "/staff/login",
        data={"csrf_token": csrf_token(page), "email": email, "password": PASSWORD},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


@pytest.fixture
def dpo(app: Flask) -> FlaskClient:
    return logged_in(app, "dpo@example.org", StaffRole.DPO)
