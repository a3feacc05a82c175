"""A request's page through the web: its timeline, the requester's other requests, the data found
for the subject (and a clear message when a system is down), every action in every status as a
POST form with CSRF and the request's version, auditors who see everything and change nothing,
two staff acting at once, and no personal data in any URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, Actor, RequestType, Status, available_actions
from tests.conftest import MakeApp
from tests.dashboard.conftest import logged_in
from tests.execution.platform_copy import copy_platform
from tests.factories import make_request, reloaded
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer

RECEIVED = datetime.now(UTC) - timedelta(days=3)

ACTION_DATA: dict[str, tuple[Action | None, dict[str, str]]] = {
    "verify": (Action.VERIFY_EMAIL, {"reason": "Checked by phone."}),
    "review": (Action.START_REVIEW, {}),
    "ask": (Action.ASK_REQUESTER, {"question": "Which account?"}),
    "identity": (Action.ASK_REQUESTER, {"reason": "Two accounts share the address."}),
    "resume": (Action.REQUESTER_ANSWERED, {"reason": "By phone: the older one."}),
    "approve": (Action.APPROVE, {}),
    "deny": (Action.DENY, {"reason": "Manifestly unfounded."}),
    "extend": (
        Action.EXTEND,
        {"months": "1", "ground": "complexity", "reason": "Many systems to search."},
    ),
    "assign": (None, {"assignee": ""}),
    "note": (None, {"note": "Called the requester."}),
}


def new_request(app: Flask, **fields: object) -> DataRequest:
    with db.transaction(db.get_engine(app)) as session:
        fields.setdefault("received_at", RECEIVED)
        return make_request(session, **fields)  # type: ignore[arg-type]


def post_action(
    client: FlaskClient, reference: str, name: str, version: int, data: dict[str, str]
) -> str:
    """Post one action as its form does; return the page shown after the redirect."""
    page = client.get(f"/dashboard/requests/{reference}")
    answer = client.post(
        f"/dashboard/requests/{reference}/{name}",
        data={"csrf_token": csrf_token(page), "version_id": str(version), **data},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert answer.headers["Location"] == f"/dashboard/requests/{reference}"
    return client.get(answer.headers["Location"]).get_data(as_text=True)


def forms_on(html: str, reference: str) -> set[str]:
    prefix = f"/dashboard/requests/{reference}/"
    return {
        action.removeprefix(prefix)
        for action in re.findall(r'<form method="post" action="([^"]+)"', html)
        if action.startswith(prefix)
    }


@pytest.mark.parametrize("status", list(Status), ids=[status.value for status in Status])
def test_every_action_in_every_status(app: Flask, dpo: FlaskClient, status: Status) -> None:
    offered = set(available_actions(status, Actor.STAFF))
    for name, (action, data) in ACTION_DATA.items():
        request = new_request(app, status=status)
        page = dpo.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
        allowed = action is None or action in offered
        assert (name in forms_on(page, request.reference)) == allowed, name
        shown = post_action(dpo, request.reference, name, request.version_id, data)
        after = reloaded(db.get_engine(app), request.id)
        if allowed:
            assert "Not done" not in shown and "Non effectué" not in shown, (name, shown)
            if action is not None and action is not Action.EXTEND:
                assert after.status is not status, name
        else:
            assert after.status is status, name
            assert after.version_id == request.version_id, name
            assert "Not done" in shown or "Non effectué" in shown, name


def test_the_page_shows_the_timeline_and_the_requesters_other_requests(
    app: Flask, dpo: FlaskClient
) -> None:
    earlier = new_request(app, status=Status.COMPLETED, received_at=RECEIVED - timedelta(days=90))
    request = new_request(app, status=Status.IN_REVIEW)
    new_request(app, status=Status.VERIFIED, email="someone.else@example.org")
    post_action(dpo, request.reference, "note", request.version_id, {"note": "First look done."})

    html = dpo.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    assert "First look done." in html
    assert "dpo@example.org" in html  # who wrote the note
    other = html.split('id="other-requests"')[1] if 'id="other-requests"' in html else html
    assert f"/dashboard/requests/{earlier.reference}" in other
    assert "someone.else" not in html


def test_an_auditor_sees_everything_and_no_action(app: Flask) -> None:
    request = new_request(app, status=Status.IN_REVIEW)
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    page = auditor.get(f"/dashboard/requests/{request.reference}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert request.reference in html
    assert forms_on(html, request.reference) == set()
    refused = auditor.post(
        f"/dashboard/requests/{request.reference}/approve",
        data={"csrf_token": csrf_token(page), "version_id": str(request.version_id)},
    )
    assert refused.status_code == 403
    assert reloaded(db.get_engine(app), request.id).status is Status.IN_REVIEW


def test_a_post_without_its_csrf_token_is_refused(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW)
    answer = dpo.post(
        f"/dashboard/requests/{request.reference}/approve",
        data={"version_id": str(request.version_id)},
    )
    assert answer.status_code == 400
    assert reloaded(db.get_engine(app), request.id).status is Status.IN_REVIEW


def test_two_staff_acting_at_once_the_second_is_told(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW)
    other = logged_in(app, "other@example.org", StaffRole.DPO)
    seen_by_both = request.version_id
    post_action(dpo, request.reference, "approve", seen_by_both, {})
    shown = post_action(other, request.reference, "deny", seen_by_both, {"reason": "No."})
    assert "changed meanwhile" in shown or "a changé entre-temps" in shown
    after = reloaded(db.get_engine(app), request.id)
    assert after.status is Status.APPROVED


def test_a_refusal_emails_the_reasons_and_the_rights(
    app: Flask, dpo: FlaskClient, smtp_server: SmtpServer
) -> None:
    request = new_request(app, status=Status.IN_REVIEW)
    post_action(
        dpo, request.reference, "deny", request.version_id, {"reason": "Manifestly unfounded."}
    )
    (mail,) = smtp_server.wait_for(1)
    assert "Manifestly unfounded." in mail.text
    assert "www.cnil.fr" in mail.text
    assert "judicial remedy" in mail.text


def test_an_invalid_form_is_shown_again_with_its_error(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW)
    page = dpo.get(f"/dashboard/requests/{request.reference}")
    answer = dpo.post(
        f"/dashboard/requests/{request.reference}/deny",
        data={"csrf_token": csrf_token(page), "version_id": str(request.version_id), "reason": ""},
    )
    assert answer.status_code == 400
    assert 'class="errors"' in answer.get_data(as_text=True)
    assert reloaded(db.get_engine(app), request.id).status is Status.IN_REVIEW


def test_no_personal_data_in_any_dashboard_url(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW)
    new_request(app, status=Status.COMPLETED)
    for path in ("/dashboard/", f"/dashboard/requests/{request.reference}"):
        html = dpo.get(path).get_data(as_text=True)
        for link in re.findall(r'(?:href|action|src)="([^"]*)"', html):
            assert "@" not in link and "%40" not in link and "zoe" not in link.lower(), link


# --- the data found for the subject -------------------------------------------------------------


@pytest.fixture
def platform_url(tmp_path: Path) -> str:
    url = f"sqlite:///{(tmp_path / 'platform.sqlite3').as_posix()}"
    seed_platform(url, learners=30, seed=7)
    return url


def _a_learner_email(platform_url: str) -> str:
    engine = create_engine(platform_url)
    try:
        with engine.connect() as connection:
            email = connection.execute(text("SELECT email FROM learner ORDER BY id LIMIT 1"))
            return str(email.scalar_one())
    finally:
        engine.dispose()


def test_the_data_found_is_shown_per_category_once_verified(
    make_app: MakeApp, platform_url: str
) -> None:
    app = make_app(POINT3_PLATFORM_URL=platform_url)
    dpo = logged_in(app, "dpo@example.org")
    email = _a_learner_email(platform_url)
    verified = new_request(app, status=Status.IN_REVIEW, email=email)
    unverified = new_request(app, status=Status.RECEIVED, email=email)

    html = dpo.get(f"/dashboard/requests/{verified.reference}").get_data(as_text=True)
    assert "Contact details" in html or "Coordonnées" in html
    assert "learner_platform.learner" in html
    html = dpo.get(f"/dashboard/requests/{unverified.reference}").get_data(as_text=True)
    assert "learner_platform.learner" not in html


def test_one_address_on_two_accounts_is_flagged_in_the_staffs_language(
    make_app: MakeApp, platform_url: str
) -> None:
    app = make_app(POINT3_PLATFORM_URL=platform_url)
    dpo = logged_in(app, "dpo@example.org")  # reads French, the desk's default
    twice = new_request(app, status=Status.IN_REVIEW, email="jean.martin@example.com")

    html = dpo.get(f"/dashboard/requests/{twice.reference}").get_data(as_text=True)

    assert "correspondent à cet identifiant (email)" in html
    assert "may have several accounts" not in html
    dpo.get("/lang/en")
    html = dpo.get(f"/dashboard/requests/{twice.reference}").get_data(as_text=True)
    assert "match this email: the same person may have several accounts" in html


def test_a_system_that_is_down_is_said_clearly(make_app: MakeApp) -> None:
    app = make_app(
        POINT3_PLATFORM_URL="postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    )
    dpo = logged_in(app, "dpo@example.org")
    request = new_request(app, status=Status.IN_REVIEW)
    page = dpo.get(f"/dashboard/requests/{request.reference}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "learner_platform" in html
    assert "could not be read" in html or "pas pu être lu" in html


def test_an_unknown_reference_is_a_404(dpo: FlaskClient) -> None:
    assert dpo.get("/dashboard/requests/DSR-2026-999999").status_code == 404


def test_staff_read_staff_wording_of_statuses_and_actors(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.VERIFIED)
    dpo.get("/lang/en")
    page = dpo.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    assert "Verified, to review" in page
    assert "Received, waiting to be reviewed" not in page  # the requester's wording
    assert "By the requester" in page and "By requester" not in page
    queue = dpo.get("/dashboard/").get_data(as_text=True)
    assert "Verified, to review" in queue and "Waiting for your answer" not in queue


def test_what_blocks_an_erasure_is_said_in_the_staffs_language(
    make_app: MakeApp, platform_url: str, tmp_path: Path
) -> None:
    """A table the map does not know refers to the person's rows the erasure deletes: the plan
    panel names it in French for staff who read French, and in English for those who read it."""
    platform = copy_platform(platform_url, tmp_path)
    engine = create_engine(platform)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE exam_result (id INTEGER PRIMARY KEY, registration_id INTEGER "
                "NOT NULL, CONSTRAINT fk_result_registration FOREIGN KEY (registration_id) "
                "REFERENCES exam_registration (id))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO exam_result (id, registration_id) SELECT 1, r.id "
                "FROM exam_registration r JOIN learner l ON l.id = r.learner_id "
                "WHERE l.email = :email"
            ),
            {"email": SAMPLE_LEARNER_EMAIL},
        )
    engine.dispose()
    app = make_app(POINT3_PLATFORM_URL=platform)
    dpo = logged_in(app, "dpo@example.org")  # reads French, the desk's default
    erasure = new_request(
        app, status=Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL, request_type=RequestType.ERASURE
    )

    html = dpo.get(f"/dashboard/requests/{erasure.reference}").get_data(as_text=True)

    assert "Bloqué : la table `exam_result`, que la cartographie ne connaît pas" in html
    assert "clé étrangère `fk_result_registration` de `exam_result`(registration_id)" in html
    assert "which the map does not know" not in html and "foreign key" not in html
    dpo.get("/lang/en")
    html = dpo.get(f"/dashboard/requests/{erasure.reference}").get_data(as_text=True)
    assert "table `exam_result`, which the map does not know, refers to rows of" in html
    assert "foreign key `fk_result_registration` from `exam_result`(registration_id)" in html
