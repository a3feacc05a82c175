"""The answer email completes its request when it is delivered (R47), through the outbox's
delivery listener: once, dated by the delivery, never for an email that answers nothing; a failed
answer leaves the request ready to send until staff send it again; a listener that keeps failing
does not make the outbox send an email twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.outbox import service as outbox
from dsr.outbox.emails import RenderedEmail
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import DeliveredEmail, deliver_due, enqueue
from dsr.outbox.smtp import SmtpSettings
from dsr.requests import answers
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, Status
from tests.factories import make_request, reloaded
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.databases("sqlite", "postgresql")

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
EMAIL = RenderedEmail(subject="Your request is done", text="Done.", html=None)


@pytest.fixture
def settings(smtp_server: SmtpServer) -> SmtpSettings:
    return SmtpSettings(
        host=smtp_server.host, port=smtp_server.port, timeout=30, sender="dpo@example.org"
    )


def ready_with_answer(store: Engine, *, answers_request: bool = True) -> tuple[int, int]:
    """A request ready to send and its answer email queued; return their ids."""
    with db.transaction(store) as session:
        request = make_request(session, status=Status.READY_TO_SEND)
        message = enqueue(
            db_session=session,
            to=request.requester_email,
            email=EMAIL,
            language=request.language,
            dedup_key=f"change-done:{request.id}",
            now=NOW,
            request_id=request.id,
            answers_request=answers_request,
        )
        assert request.id is not None and message.id is not None
        return request.id, message.id


def completions(store: Engine, request_id: int) -> list[RequestEvent]:
    with db.open_session(store) as session:
        return list(
            session.exec(
                select(RequestEvent).where(
                    RequestEvent.request_id == request_id,
                    RequestEvent.action == Action.COMPLETE.value,
                )
            ).all()
        )


def message_of(store: Engine, message_id: int) -> OutboxMessage:
    with db.open_session(store) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message


def test_delivering_the_answer_completes_the_request_once(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    request_id, message_id = ready_with_answer(store)

    deliver_due(engine_or_session_factory=store, settings=settings, now=NOW)

    smtp_server.wait_for(1)
    sent = message_of(store, message_id)
    request = reloaded(store, request_id)
    assert request.status is Status.COMPLETED
    assert request.answered_at == sent.sent_at
    [event] = completions(store, request_id)
    assert event.at == sent.sent_at and event.actor_kind == "system"
    assert deliver_due(engine_or_session_factory=store, settings=settings, now=NOW).sent == 0
    assert len(completions(store, request_id)) == 1


def test_an_email_that_answers_nothing_completes_nothing(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    request_id, _ = ready_with_answer(store, answers_request=False)

    deliver_due(engine_or_session_factory=store, settings=settings, now=NOW)

    smtp_server.wait_for(1)
    assert reloaded(store, request_id).status is Status.READY_TO_SEND
    with pytest.raises(ValueError, match="names the request"), db.transaction(store) as session:
        enqueue(
            db_session=session,
            to="a@example.org",
            email=EMAIL,
            language=reloaded(store, request_id).language,
            dedup_key=None,
            now=NOW,
            answers_request=True,
        )


def test_a_failed_answer_leaves_the_request_open_until_sent_again(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    request_id, message_id = ready_with_answer(store)
    smtp_server.refuse_next(1, 550)
    deliver_due(engine_or_session_factory=store, settings=settings, now=NOW)
    assert message_of(store, message_id).status is OutboxStatus.FAILED
    assert reloaded(store, request_id).status is Status.READY_TO_SEND
    with db.open_session(store) as session:
        shown = answers.answer_email(session, request_id)
    assert shown is not None and shown.status is OutboxStatus.FAILED
    assert shown.last_error is not None and "550" in shown.last_error

    later = NOW + timedelta(hours=2)
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        answers.send_answer_again(
            db_session=session, request=request, staff_label="dpo@example.org", now=later
        )
    with db.transaction(store) as session:  # twice: refused, the copy is on its way
        request = session.get(DataRequest, request_id)
        assert request is not None
        with pytest.raises(answers.AnswerRefused, match="has not failed"):
            answers.send_answer_again(
                db_session=session, request=request, staff_label="dpo@example.org", now=later
            )
    deliver_due(engine_or_session_factory=store, settings=settings, now=later)

    [mail] = smtp_server.wait_for(1)
    assert mail.message["Subject"] == EMAIL.subject
    request = reloaded(store, request_id)
    assert request.status is Status.COMPLETED
    assert request.answered_at is not None and request.answered_at >= later


@pytest.fixture
def failing_listener() -> Iterator[list[int]]:
    calls: list[int] = []

    def fail(_session: Session, delivered: DeliveredEmail) -> None:
        calls.append(delivered.id)
        raise RuntimeError("a listener that always fails")

    outbox.on_delivered(fail)
    yield calls
    outbox._DELIVERY_LISTENERS.remove(fail)


def test_a_failing_listener_never_makes_the_outbox_send_twice(
    store: Engine,
    settings: SmtpSettings,
    smtp_server: SmtpServer,
    failing_listener: list[int],
) -> None:
    request_id, message_id = ready_with_answer(store)

    report = deliver_due(engine_or_session_factory=store, settings=settings, now=NOW)
    deliver_due(engine_or_session_factory=store, settings=settings, now=NOW + timedelta(hours=1))

    assert report.sent == 1
    assert len(smtp_server.wait_for(1)) == 1
    assert message_of(store, message_id).status is OutboxStatus.SENT
    assert failing_listener == [message_id] * outbox.LISTENER_TRIES
    assert reloaded(store, request_id).status is Status.READY_TO_SEND  # and staff see it
