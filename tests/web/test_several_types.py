"""The public form and status page of a submission that asks for several things (issue 19): one
request per thing, one email to confirm them all, one page that shows each part with its own
status, and a question on one part that pauses that part only."""

from __future__ import annotations

import html

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select
from werkzeug.test import TestResponse

from dsr import db
from dsr.db import utcnow
from dsr.requests.models import DataRequest
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, RequestType, Status
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.web.conftest import STATUS_LINK, VERIFY_LINK, link_in, stored_requests


def file_several(client: FlaskClient, main: str, *also: str, **fields: str) -> TestResponse:
    """Post the form with `main` chosen in the list and `also` ticked, as a browser does (the
    pages in English)."""
    client.get("/lang/en")
    token = csrf_token(client.get("/"))
    data: dict[str, object] = {
        "csrf_token": token,
        "email": "zoe.lefevre@example.org",
        "request_type": main,
        "also_types": list(also),
        "language": "en",
        **fields,
    }
    return client.post("/", data=data)


def confirmed_status_page(client: FlaskClient, smtp_server: SmtpServer) -> tuple[str, str]:
    """Click the one verification link and confirm; return the status path and the email."""
    verification = smtp_server.wait_for(1)[0]
    token = csrf_token(client.get(link_in(verification.text, VERIFY_LINK)))
    confirmed = client.post(link_in(verification.text, VERIFY_LINK), data={"csrf_token": token})
    assert confirmed.status_code == 302
    status_mail = smtp_server.wait_for(2)[1]
    assert link_in(status_mail.text, STATUS_LINK) == confirmed.headers["Location"]
    return confirmed.headers["Location"], verification.text


def staff_step(app: Flask, reference: str, action: Action) -> None:
    with db.transaction(db.get_engine(app)) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()
        change_status(
            db_session=session,
            request=request,
            action=action,
            actor=Actor.STAFF,
            at=utcnow(),
            actor_label="dpo@example.org",
        )


def text_of(client: FlaskClient, path: str) -> str:
    shown = client.get(path)
    assert shown.status_code == 200
    return html.unescape(shown.get_data(as_text=True))


def test_the_form_files_each_thing_ticked_and_one_link_confirms_them_all(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    assert file_several(client, "access", "erasure").status_code == 302

    access, erasure = stored_requests(app)
    assert (access.type, erasure.type) == (RequestType.ACCESS, RequestType.ERASURE)
    assert access.group_id == erasure.group_id == access.id
    status_path, verification = confirmed_status_page(client, smtp_server)
    assert access.reference in verification and erasure.reference in verification
    assert [part.status for part in stored_requests(app)] == [Status.VERIFIED] * 2

    assert "Do you also ask for something else?" in text_of(client, "/")
    page = text_of(client, status_path)
    assert access.reference in page and erasure.reference in page
    assert "The other parts of your request" in page
    assert "Erase my data" in page and "Get a copy of my data" in page
    assert f"Cancel this part ({access.reference}) only" in page


def test_a_question_on_one_part_pauses_that_part_only(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    file_several(client, "access", "erasure")
    status_path, _ = confirmed_status_page(client, smtp_server)
    access, erasure = stored_requests(app)
    staff_step(app, erasure.reference, Action.START_REVIEW)
    staff_step(app, erasure.reference, Action.ASK_REQUESTER)

    page = text_of(client, status_path)
    assert "The deadline of this part is paused until you answer our question" in page
    assert "the other parts go on" in page

    token = csrf_token(client.get(status_path))
    answered = client.post(
        f"{status_path}/answer",
        data={"csrf_token": token, "part": erasure.reference, "message": "The older account."},
    )
    assert answered.status_code == 302
    access, erasure = stored_requests(app)
    assert erasure.status is Status.IN_REVIEW
    assert erasure.message is not None and "The older account." in erasure.message
    assert access.status is Status.VERIFIED and access.message is None

    elsewhere = client.post(
        f"{status_path}/answer",
        data={"csrf_token": token, "part": "DSR-2026-999999", "message": "Hello"},
    )
    assert elsewhere.status_code == 404


def test_a_single_type_is_still_filed_alone(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    assert file_several(client, "portability").status_code == 302
    [alone] = stored_requests(app)
    assert alone.group_id is None
    status_path, _ = confirmed_status_page(client, smtp_server)
    assert "The other parts of your request" not in text_of(client, status_path)


@pytest.mark.parametrize(
    ("main", "also", "said"),
    [
        ("access", ("access",), "Tick only what you have not already chosen above."),
        ("access", ("erasure", "erasure"), "Tick only what you have not already chosen above."),
        ("access", ("teleportation",), "Choose among the requests in the list."),
        ("access", ("rectification",), "Tell us what to correct."),
    ],
    ids=["main type ticked again", "ticked twice", "unknown type", "rectification unsaid"],
)
def test_bad_ticks_are_refused_with_a_message_and_nothing_is_stored(
    app: Flask, client: FlaskClient, main: str, also: tuple[str, ...], said: str
) -> None:
    refused = file_several(client, main, *also)
    assert refused.status_code == 400
    assert said in html.unescape(refused.get_data(as_text=True))
    assert stored_requests(app) == []


def test_a_rectification_ticked_beside_another_type_keeps_its_details(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    filed = file_several(client, "access", "rectification", rectification="My name is Zoé.")
    assert filed.status_code == 302
    access, rectification = stored_requests(app)
    assert access.rectification_details is None
    assert rectification.rectification_details == "My name is Zoé."
