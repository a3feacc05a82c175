"""Staff add another identity of the person on a request's page, with how it was proven; bad
input shows the page again (400) with nothing stored; an identity added by mistake is removed;
an auditor can do neither."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.requests.identities import identities_of
from dsr.requests.workflow import Status
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.pages import csrf_token


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    return client


def stored(app: Flask, request_id: int | None) -> list[tuple[str, str]]:
    with db.open_session(db.get_engine(app)) as session:
        return [(row.identity, row.value) for row in identities_of(session, request_id)]


def test_staff_add_and_remove_another_identity(app: Flask) -> None:
    with db.transaction(db.get_engine(app)) as session:
        made = make_request(session, status=Status.IN_REVIEW, received_at=datetime.now(UTC))
        reference, request_id = made.reference, made.id
    dpo = english(logged_in(app, "dpo@example.org"))
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    path = f"/dashboard/requests/{reference}/identities"
    token = csrf_token(dpo.get(f"/dashboard/requests/{reference}"))

    unproven = dpo.post(
        path, data={"csrf_token": token, "identity": "phone", "value": "+33 6 12 34 56 78"}
    )
    assert unproven.status_code == 400
    assert "Say how this identity was proven" in unproven.get_data(as_text=True)
    malformed = dpo.post(
        path,
        data={"csrf_token": token, "identity": "email", "value": "nope", "proof": "letter"},
    )
    assert malformed.status_code == 400
    assert "Enter a valid email address" in malformed.get_data(as_text=True)
    assert stored(app, request_id) == []

    added = dpo.post(
        path,
        data={
            "csrf_token": token,
            "identity": "phone",
            "value": "+33 6 12 34 56 78",
            "proof": "Called back on this number, she confirmed her orders.",
        },
    )
    assert added.status_code == 303
    assert stored(app, request_id) == [("phone", "+33612345678")]
    page = dpo.get(f"/dashboard/requests/{reference}").get_data(as_text=True)
    assert "+33612345678" in page and "Another identity of the person added" in page

    auditor_token = csrf_token(auditor.get(f"/dashboard/requests/{reference}"))
    assert (
        auditor.post(
            path,
            data={
                "csrf_token": auditor_token,
                "identity": "email",
                "value": "x@example.org",
                "proof": "p",
            },
        ).status_code
        == 403
    )

    with db.open_session(db.get_engine(app)) as session:
        [row] = identities_of(session, request_id)
    removed = dpo.post(f"{path}/{row.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    assert stored(app, request_id) == []
    assert dpo.post(f"{path}/{row.id}/remove", data={"csrf_token": token}).status_code == 404
