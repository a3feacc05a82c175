"""Answered means sent (R47): a report that is ready but not sent keeps the request on the clock
(the queue, the reminders, the requester's page); sending it completes the request only once the
SMTP server has accepted the email, dated by that delivery, once; an answer that cannot be
delivered leaves the request open and tells staff why; the requester's page then shows the
answer and can have a new download link emailed."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import DeliveredEmail, deliver_due
from dsr.outbox.smtp import SmtpSettings
from dsr.requests.answers import complete_answered_request
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, Status
from tests.delivery.conftest import (
    CompleteRequest,
    ask_code,
    download_path,
    give_code,
    requester,
    send,
    stored,
)
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.waiting import wait_until


def status_token(app: Flask, request_id: int) -> str:
    """Give the request a status page, as its verification would, and return its token."""
    with db.transaction(db.get_engine(app)) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        return request.issue_status_token()


def answer_message(app: Flask, request_id: int) -> OutboxMessage:
    with db.open_session(db.get_engine(app)) as session:
        message = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.answers_request_id == request_id)
            .order_by(col(OutboxMessage.id).desc())
        ).first()
        assert message is not None
        return message


def completions(app: Flask, request_id: int) -> list[RequestEvent]:
    with db.open_session(db.get_engine(app)) as session:
        return list(
            session.exec(
                select(RequestEvent).where(
                    RequestEvent.request_id == request_id,
                    RequestEvent.action == Action.COMPLETE.value,
                )
            ).all()
        )


def deliver_later(app: Flask, hours: int = 1) -> None:
    """Run the outbox as the scheduler would, `hours` from now (past any retry delay)."""
    deliver_due(
        engine_or_session_factory=db.get_engine(app),
        settings=SmtpSettings.from_config(app.config),
        now=db.utcnow() + timedelta(hours=hours),
    )


def test_a_report_ready_but_unsent_stays_on_the_clock(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    request = stored(app, done.request_id)
    assert request.status is Status.READY_TO_SEND
    assert request.answered_at is None

    queue = dpo.get("/dashboard/").get_data(as_text=True)
    assert done.reference in queue  # the default queue shows the open requests only
    assert "Ready to send" in queue

    token = status_token(app, done.request_id)
    page = requester(app).get(f"/status/{token}").get_data(as_text=True)
    assert "Completed" not in page
    assert "Carried out: we will send you our answer by email" in page
    assert "We will answer by" in page
    french = app.test_client()
    french.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    assert "Terminée" not in french.get(f"/status/{token}").get_data(as_text=True)
    assert smtp_server.messages == []


def test_sending_completes_the_request_once_the_email_is_delivered(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    smtp_server.refuse_next(1, 451)  # the first attempt is refused for now
    send(dpo, done.reference)
    wait_until(lambda: answer_message(app, done.request_id).attempts == 1, "a first attempt")
    assert smtp_server.messages == []
    assert stored(app, done.request_id).status is Status.READY_TO_SEND

    deliver_later(app)

    smtp_server.wait_for(1)
    message = answer_message(app, done.request_id)
    assert message.status is OutboxStatus.SENT
    request = stored(app, done.request_id)
    assert request.status is Status.COMPLETED
    assert request.answered_at == message.sent_at
    [event] = completions(app, done.request_id)
    assert event.at == message.sent_at
    assert event.from_status is Status.READY_TO_SEND
    assert event.details == {"answer_email": message.id}

    # A second run, or the same delivery reported again, completes nothing more.
    deliver_later(app, hours=2)
    assert message.id is not None and message.sent_at is not None
    with db.transaction(db.get_engine(app)) as session:
        complete_answered_request(
            session,
            DeliveredEmail(
                id=message.id,
                request_id=done.request_id,
                answers_request_id=done.request_id,
                sent_at=message.sent_at + timedelta(minutes=5),
            ),
        )
    assert len(completions(app, done.request_id)) == 1
    assert stored(app, done.request_id).answered_at == message.sent_at


def test_an_answer_that_fails_for_good_leaves_the_request_open_and_staff_see_why(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    smtp_server.refuse_next(1, 550)  # refused for good
    send(dpo, done.reference)
    wait_until(
        lambda: answer_message(app, done.request_id).status is OutboxStatus.FAILED,
        "the answer email failed for good",
    )
    request = stored(app, done.request_id)
    assert request.status is Status.READY_TO_SEND
    assert request.answered_at is None

    page = dpo.get(f"/dashboard/requests/{done.reference}").get_data(as_text=True)
    assert "The answer email could not be delivered (message refused: 550" in page
    assert "stays on the clock" in page

    send(dpo, done.reference)  # staff send it again: a new link replaces the old one
    smtp_server.wait_for(1)
    wait_until(
        lambda: stored(app, done.request_id).status is Status.COMPLETED, "the request completed"
    )
    page = dpo.get(f"/dashboard/requests/{done.reference}").get_data(as_text=True)
    assert "Answer delivered to the requester on" in page


def test_the_status_page_shows_the_answer_and_emails_a_new_link(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    token = status_token(app, done.request_id)
    send(dpo, done.reference)
    first_link = download_path(smtp_server, 1)
    wait_until(
        lambda: stored(app, done.request_id).status is Status.COMPLETED, "the request completed"
    )
    browser = requester(app)
    page = browser.get(f"/status/{token}").get_data(as_text=True)
    assert "Answered on" in page
    assert "We sent you an email with a link to download your data." in page
    assert "The download link works until" in page
    assert "We will answer by" not in page

    renewed = browser.post(
        f"/status/{token}/new-link",
        data={"csrf_token": csrf_token(browser.get(f"/status/{token}"))},
    )
    assert renewed.status_code == 302
    new_link = download_path(smtp_server, 2)
    assert new_link != first_link
    assert smtp_server.messages[1].envelope_recipients == (
        stored(app, done.request_id).requester_email,
    )
    assert browser.get(first_link).status_code == 404  # the old link no longer works
    code = ask_code(browser, new_link, smtp_server)
    assert give_code(browser, new_link, code)[0] == 303  # the files open
    assert len(completions(app, done.request_id)) == 1  # a new link answers nothing again


def test_no_new_link_for_a_request_without_a_sent_answer(
    app: Flask, dpo: FlaskClient, complete_request: CompleteRequest, smtp_server: SmtpServer
) -> None:
    done = complete_request()
    token = status_token(app, done.request_id)
    browser = requester(app)
    page = browser.get(f"/status/{token}")
    assert "new-link" not in page.get_data(as_text=True)

    form_page = browser.get("/")  # a form of the same session gives its CSRF token
    refused = browser.post(f"/status/{token}/new-link", data={"csrf_token": csrf_token(form_page)})

    assert refused.status_code == 409
    assert browser.post("/status/not-a-token/new-link", data={}).status_code in (400, 404)
    assert smtp_server.messages == []
