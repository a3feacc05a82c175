"""Open tasks are reminded to staff once when due soon and once when overdue (a recipient to tell
must not be forgotten, Art. 19); the emails carry no free text of the task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.outbox.models import OutboxMessage
from dsr.requests.models import Task, TaskKind
from dsr.requests.task_jobs import task_notice
from dsr.requests.tasks import complete_task, create_task
from dsr.requests.workflow import Status
from dsr.scheduler.jobs import run_job
from dsr.scheduler.runs import SchedulerSettings
from tests.accounts.helpers import make_staff
from tests.scheduler.conftest import NOW, MakeRequest


def _sent(store: Engine, prefix: str) -> list[OutboxMessage]:
    with db.open_session(store) as session:
        return list(
            session.exec(
                select(OutboxMessage).where(col(OutboxMessage.dedup_key).startswith(prefix))
            ).all()
        )


def test_which_task_notice_is_due() -> None:
    due = NOW + timedelta(days=10)
    assert task_notice(due, NOW) is None
    assert task_notice(due, due - timedelta(days=3)) == "task_due_soon"
    assert task_notice(due, due) == "task_overdue"


@pytest.mark.databases("sqlite", "postgresql")
def test_an_open_task_is_reminded_once_then_alerted_once(
    store: Engine, settings: SchedulerSettings
) -> None:
    with db.transaction(store) as session:
        dpo = make_staff(session, role=StaffRole.DPO, email="dpo@desk.example")
        task = create_task(
            db_session=session,
            staff=dpo,
            kind=TaskKind.NOTIFY_RECIPIENT,
            title="Tell Zoé Lefèvre's exam centre",
            details="zoe.lefevre@example.org",
            recipient="cci_paris_idf",
            due_at=NOW + timedelta(days=10),
            now=NOW,
        )
        done_later = create_task(
            db_session=session,
            staff=dpo,
            kind=TaskKind.MANUAL_CHECK,
            title="Archive",
            due_at=NOW + timedelta(days=10),
            now=NOW,
        )
    due = NOW + timedelta(days=10)
    run_job("task_reminders", engine=store, settings=settings, now=NOW)
    assert _sent(store, "task_") == []
    for _ in range(2):
        run_job("task_reminders", engine=store, settings=settings, now=due - timedelta(days=2))
    soon = _sent(store, "task_due_soon:")
    assert len(soon) == 2  # each open task, once
    with db.transaction(store) as session:
        complete_task(
            db_session=session,
            staff=dpo,
            task_id=done_later.id or 0,
            outcome="Nothing there",
            now=due - timedelta(days=1),
        )
    for _ in range(2):
        run_job("task_reminders", engine=store, settings=settings, now=due + timedelta(days=1))
    [overdue] = _sent(store, "task_overdue:")
    assert overdue.to_address == "dpo@desk.example"
    assert overdue.subject == f"Tâche {task.id} en retard"  # staff emails: DSR_STAFF_LANGUAGE
    assert "cci_paris_idf" in overdue.text_body
    assert "Zoé" not in overdue.text_body + overdue.subject  # no free text of the task
    assert "zoe.lefevre" not in overdue.text_body


@pytest.mark.databases("sqlite")
def test_minimising_a_closed_request_clears_how_its_recipients_find_the_person(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    old = make_request(status=Status.COMPLETED, received_at=NOW - timedelta(days=6 * 365))
    with db.transaction(store) as session:
        session.add(
            Task(
                request_id=old,
                kind=TaskKind.NOTIFY_RECIPIENT,
                title="Notify hosting",
                created_at=NOW - timedelta(days=6 * 365),
                subject_identity="zoe.lefevre@example.org",
            )
        )
    run_job("minimise_closed", engine=store, settings=settings, now=NOW)
    with db.open_session(store) as session:
        [task] = session.exec(select(Task).where(Task.request_id == old)).all()
    assert task.subject_identity is None
