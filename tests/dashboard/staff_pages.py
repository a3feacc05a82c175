"""Fixtures of the tests of the tasks, audit, map and figures pages: the app's settings (the app is
the suite's, on a migrated SQLite store), staff members of each role, and a client logged in as
one of them.

Logging in puts the staff member's session in the cookie as a login would (the login itself,
with its password and second factor, is tested with the accounts).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.accounts.access import LOGIN_AT_KEY, SEEN_KEY
from dsr.accounts.models import StaffRole, StaffUser
from tests.accounts.helpers import make_staff

ROLES = tuple(role.value for role in StaffRole)

StaffClient = Callable[[StaffRole | str], FlaskClient]


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's settings, without delivery after commit: these pages send no mail. A test
    can change them before the app is created (e.g. DATA_MAP)."""
    return {**app_config, "DELIVER_AFTER_COMMIT": False}


def logged_in(client: FlaskClient, user: StaffUser) -> FlaskClient:
    """Make `client` carry the session of `user`, as after a login now; it reads English unless
    a request asks otherwise."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    now = datetime.now(UTC).timestamp()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[LOGIN_AT_KEY] = now
        session[SEEN_KEY] = now
        session.permanent = True
    return client


@pytest.fixture
def staff_client(app: Flask) -> StaffClient:
    """Return a client logged in as a new staff member with the given role."""
    made: dict[StaffRole, StaffUser] = {}

    def client_for(role: StaffRole | str) -> FlaskClient:
        role = StaffRole(role)
        if role not in made:
            made[role] = make_staff(
                db.get_engine(app), role=role, email=f"{role.value}@desk.example"
            )
        return logged_in(app.test_client(), made[role])

    return client_for
