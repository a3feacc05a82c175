"""Fixtures of the dashboard tests: a migrated store, requests built in any status with a
consistent state, staff members, and the signer of the requester's links."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
from dsr.addresses import normalize_email
from dsr.app import create_app
from dsr.audit.models import RequestEvent, record_action
from dsr.languages import Language
from dsr.outbox.models import OutboxMessage
from dsr.requests.links import LinkSigner
from dsr.requests.models import DataRequest, next_reference
from dsr.requests.workflow import Actor, RequestState, RequestType, Status
from tests.smtp_server import SmtpServer, smtp_server

__all__ = ["smtp_server"]

RECEIVED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = RECEIVED_AT + timedelta(days=5)
EMAIL = "Zoe.Lefevre@Example.org"

LINKS = LinkSigner(
    "a-test-secret-key",
    verify_url=lambda token: f"https://desk.example/verify/{token}",
    status_url=lambda token: f"https://desk.example/status/{token}",
)


@pytest.fixture
def store(engine_url: str) -> Iterator[Engine]:
    """A migrated store on this run's engine."""
    db.run_migrations(engine_url)
    engine = db.make_engine(engine_url)
    yield engine
    engine.dispose()


def add_request(
    session: Session,
    *,
    status: Status = Status.VERIFIED,
    received_at: datetime = RECEIVED_AT,
    email: str = EMAIL,
    request_type: RequestType = RequestType.ACCESS,
    language: Language = Language.EN,
    paused_since: datetime | None = None,
    **fields: Any,
) -> DataRequest:
    """Add a request in `status`, with the state a request there has (verified past `received`,
    paused while awaiting the requester), and the event of its filing; flush it."""
    if status is not Status.AWAITING_REQUESTER:
        paused_since = None
    elif paused_since is None:
        paused_since = received_at + timedelta(days=2)
    state = RequestState(status=status, received_at=received_at, paused_since=paused_since)
    request = DataRequest(
        reference=next_reference(db_session=session, received_at=received_at),
        type=request_type,
        requester_email=email,
        normalized_email=normalize_email(email),
        language=language,
        status=status,
        received_at=received_at,
        verified_at=(
            None
            if status in (Status.RECEIVED, Status.EXPIRED)
            else received_at + timedelta(hours=1)
        ),
        due_at=state.due_at,
        paused_since=paused_since,
        **fields,
    )
    session.add(request)
    session.flush()
    record_action(
        db_session=session,
        request=request,
        actor=Actor.REQUESTER,
        action="submitted",
        at=received_at,
        to_status=Status.RECEIVED,
    )
    return request


def make_request(engine: Engine, **fields: Any) -> DataRequest:
    """Add a request (see `add_request`) in its own committed transaction."""
    with db.transaction(engine) as session:
        return add_request(session, **fields)


def add_staff(
    session: Session, email: str, role: StaffRole = StaffRole.DPO, *, active: bool = True
) -> StaffUser:
    """Add a staff member (without a password: tests of operations do not log in)."""
    user = StaffUser(email=email, name="", role=role, active=active, created_at=RECEIVED_AT)
    session.add(user)
    session.flush()
    return user


def reloaded(engine: Engine, request_id: int | None) -> DataRequest:
    with db.open_session(engine) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        return request


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
                "SESSION_COOKIE_SECURE": False,
                "SMTP_HOST": smtp_server.host,
                "SMTP_PORT": smtp_server.port,
                "MAIL_SENDER": "privacy@example.org",
                "EXECUTE_AFTER_APPROVAL": False,  # tests/delivery/ runs approved requests
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
