"""Status links that were replaced or lost: an old link after a question says that a newer one
was sent (410, with a way to get another), not "not found"; a lost link is asked for again on
/resend, which answers the same way whatever the address."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from dsr import db
from dsr.db import utcnow
from dsr.requests import staff_actions
from dsr.requests.links import current_links
from dsr.requests.models import DataRequest
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, Status
from dsr.worker.enqueue import deliver_after_commit
from tests.smtp_server import SmtpServer
from tests.web.conftest import STATUS_LINK, follow_to_status, link_in, stored_requests, submit


def _ask_a_question(app: Flask) -> None:
    with app.app_context(), db.transaction(db.get_engine(app)) as session:
        request = session.exec(select(DataRequest)).one()
        change_status(
            db_session=session,
            request=request,
            action=Action.START_REVIEW,
            actor=Actor.STAFF,
            at=utcnow(),
            actor_label="dpo@example.org",
        )
        staff_actions.ask_requester(
            db_session=session,
            request=request,
            version_id=request.version_id,
            staff_label="dpo@example.org",
            question="Which of your two accounts do you mean?",
            now=utcnow(),
            links=current_links(),
        )
        deliver_after_commit(session)  # as the dashboard does


def test_an_old_status_link_after_a_question_says_a_new_one_was_sent(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    old_path = follow_to_status(client, smtp_server)
    _ask_a_question(app)
    question = smtp_server.wait_for(3)[2]
    new_path = link_in(question.text, STATUS_LINK)
    assert new_path != old_path

    for path in (old_path, old_path + "/cancel"):
        old = client.get(path)
        assert old.status_code == 410, path
        page = old.get_data(as_text=True)
        assert "A newer link replaced this one" in page
        assert 'action="/resend"' in page  # a way to get another
        assert old.headers["Cache-Control"].startswith("no-store")
    assert client.get(new_path).status_code == 200
    # A link that never was stays "not found".
    assert client.get("/status/" + "x" * 43).status_code == 404


def test_a_lost_status_link_is_sent_again_and_the_old_one_stops(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    old_path = follow_to_status(client, smtp_server)
    for email in ("zoe.lefevre@example.org", "nobody@example.org"):
        answer = submit(client, "/resend", {"email": email})
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/resend/sent"
    [renewed] = smtp_server.wait_for(3)[2:]  # nothing for the unknown address
    assert renewed.envelope_recipients == ("zoe.lefevre@example.org",)
    assert str(renewed.message["Subject"]).startswith("A new link to follow your request")
    assert "You asked for a new link" in renewed.text
    assert "We will answer by" in renewed.text  # still open: its deadline holds
    new_path = link_in(renewed.text, STATUS_LINK)
    assert client.get(new_path).status_code == 200
    assert client.get(old_path).status_code == 410
    assert stored_requests(app)[0].status is Status.VERIFIED


def test_a_new_link_to_a_closed_request_promises_no_answer(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    follow_to_status(client, smtp_server)
    with app.app_context(), db.transaction(db.get_engine(app)) as session:
        request = session.exec(select(DataRequest)).one()
        for action in (Action.START_REVIEW, Action.DENY):
            change_status(
                db_session=session,
                request=request,
                action=action,
                actor=Actor.STAFF,
                at=utcnow(),
                actor_label="dpo@example.org",
                reason="Manifestly unfounded.",
            )
    assert submit(client, "/resend", {"email": "zoe.lefevre@example.org"}).status_code == 302
    renewed = smtp_server.wait_for(3)[2]
    assert "You asked for a new link" in renewed.text
    assert "We will answer by" not in renewed.text
