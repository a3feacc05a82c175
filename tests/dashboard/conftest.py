"""Fixtures of the dashboard tests: the app's settings for staff pages, a client logged in as
staff, and the signer of the requester's links (the store is the suite's; requests come from
tests/factories.py, staff from tests/accounts/helpers.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.outbox.models import OutboxMessage
from dsr.requests.links import LinkSigner
from tests.accounts.helpers import login, make_staff
from tests.factories import RECEIVED_AT

NOW = RECEIVED_AT + timedelta(days=5)

LINKS = LinkSigner(
    "a-test-secret-key",
    verify_url=lambda token: f"https://desk.example/verify/{token}",
    status_url=lambda token: f"https://desk.example/status/{token}",
)


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


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Staff pages over plain HTTP; approval does not run the request (tests/delivery does)."""
    return {"SESSION_COOKIE_SECURE": False, "EXECUTE_AFTER_APPROVAL": False}


def logged_in(app: Flask, email: str, role: StaffRole = StaffRole.DPO) -> FlaskClient:
    """Return a test client logged in, through the login page, as a new staff member."""
    make_staff(db.get_engine(app), role=role, email=email)
    client = app.test_client()
    answer = login(client, email)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


@pytest.fixture
def dpo(app: Flask) -> FlaskClient:
    return logged_in(app, "dpo@example.org", StaffRole.DPO)
