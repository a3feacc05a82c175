"""A recipient's task (Art. 19): closing it needs the day and channel of the message sent, both
stored and audited; once the last recipient of a request is told, the requester gets one email
naming each recipient and the day it was told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsr import db
from dsr.accounts.models import StaffRole, StaffUser
from dsr.audit.models import RequestEvent
from dsr.outbox.models import OutboxMessage
from dsr.requests.models import DataRequest, Task, TaskKind, TaskStatus
from dsr.requests.tasks import TaskError, complete_task, create_task
from dsr.requests.workflow import RequestType, Status
from tests.accounts.helpers import make_staff
from tests.dashboard.conftest import NOW
from tests.factories import make_request

pytestmark = pytest.mark.databases("sqlite")


def recipient_task(session: Session, staff: StaffUser, request: DataRequest, who: str) -> int:
    task = create_task(
        db_session=session,
        staff=staff,
        kind=TaskKind.NOTIFY_RECIPIENT,
        title=f"Notify {who}",
        recipient=who,
        request_reference=request.reference,
        now=NOW,
    )
    assert task.id is not None
    return task.id


def mails(session: Session, request: DataRequest) -> list[OutboxMessage]:
    return list(
        session.exec(select(OutboxMessage).where(OutboxMessage.request_id == request.id)).all()
    )


def test_closing_a_recipient_task_needs_the_day_and_channel_of_the_message(store: Engine) -> None:
    with db.transaction(store) as session:
        dpo = make_staff(session, role=StaffRole.DPO, email="dpo@desk.example")
        request = make_request(session, status=Status.COMPLETED, request_type=RequestType.ERASURE)
        task_id = recipient_task(session, dpo, request, "hosting")
        attempts = [
            ({}, "Give the date the message was sent"),
            ({"told_on": NOW.date()}, "Say how the recipient was told"),
            ({"told_on": NOW.date(), "told_via": "pigeon"}, "Say how the recipient was told"),
            (
                {"told_on": (NOW + timedelta(days=2)).date(), "told_via": "email"},
                "cannot be in the future",
            ),
        ]
        for fields, message in attempts:
            with pytest.raises(TaskError, match=message):
                complete_task(
                    db_session=session,
                    staff=dpo,
                    task_id=task_id,
                    outcome="Sent",
                    now=NOW,
                    **fields,  # type: ignore[arg-type]
                )
            assert session.get(Task, task_id).status is TaskStatus.OPEN  # type: ignore[union-attr]
        done = complete_task(
            db_session=session,
            staff=dpo,
            task_id=task_id,
            outcome="Sent",
            now=NOW,
            told_on=NOW.date(),
            told_via="email",
        )
        assert (done.told_on, done.told_via) == (NOW.date(), "email")
        event = session.exec(select(RequestEvent).where(RequestEvent.action == "task_done")).one()
        assert event.details is not None
        assert (event.details["told_on"], event.details["told_via"]) == (
            NOW.date().isoformat(),
            "email",
        )


def test_the_requester_is_told_who_was_informed_once_the_last_task_is_done(
    store: Engine,
) -> None:
    with db.transaction(store) as session:
        dpo = make_staff(session, role=StaffRole.DPO, email="dpo@desk.example")
        request = make_request(session, status=Status.COMPLETED, request_type=RequestType.ERASURE)
        first = recipient_task(session, dpo, request, "hosting")
        second = recipient_task(session, dpo, request, "cci_paris_idf")
        before = len(mails(session, request))
        complete_task(
            db_session=session,
            staff=dpo,
            task_id=first,
            outcome="Sent",
            now=NOW,
            told_on=(NOW - timedelta(days=1)).date(),
            told_via="email",
        )
        assert len(mails(session, request)) == before  # one recipient is still to be told
        complete_task(
            db_session=session,
            staff=dpo,
            task_id=second,
            outcome="Sent",
            now=NOW,
            told_on=NOW.date(),
            told_via="letter",
        )
        [told] = mails(session, request)[before:]
    assert told.to_address == request.requester_email
    assert "recipients of your data were told" in told.subject
    assert "hosting, told on" in told.text_body and "cci_paris_idf, told on" in told.text_body
    assert f"The last of them was told on {NOW.day}" in told.text_body
