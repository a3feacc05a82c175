"""Manual tasks: created linked to a request or not, listed with filters, done once with an
outcome, each change audited on the linked request; auditors read them and change nothing."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent, verify_audit
from dsr.requests.deadlines import end_of_day
from dsr.requests.models import Task, TaskKind, TaskStatus
from dsr.requests.tasks import (
    TaskError,
    TaskFilters,
    complete_task,
    create_task,
    list_tasks,
)
from tests.accounts.helpers import make_staff
from tests.dashboard.conftest import NOW
from tests.dashboard.staff_pages import ROLES, StaffClient, app_config, staff_client
from tests.factories import make_request
from tests.pages import csrf_token

__all__ = ["app_config", "staff_client"]  # the fixtures used here

PARIS = ZoneInfo("Europe/Paris")


def _actions(session: Session, request_id: int | None) -> list[str]:
    return list(
        session.exec(
            select(RequestEvent.action)
            .where(RequestEvent.request_id == request_id)
            .order_by(col(RequestEvent.sequence))
        ).all()
    )


def test_a_task_due_on_a_day_is_late_the_day_after() -> None:
    due = end_of_day(date(2026, 3, 29), PARIS)  # the day summer time starts

    assert due.astimezone(PARIS).date() == date(2026, 3, 29)
    assert (due + timedelta(microseconds=1)).astimezone(PARIS).date() == date(2026, 3, 30)


@pytest.mark.databases("sqlite", "postgresql")
def test_a_linked_task_is_created_done_and_audited(store: Engine) -> None:
    with db.transaction(store) as session:
        dpo = make_staff(session, role=StaffRole.DPO, email="dpo@desk.example")
        request = make_request(session)
        task = create_task(
            db_session=session,
            staff=dpo,
            kind=TaskKind.NOTIFY_RECIPIENT,
            title="Tell the payment provider about the erasure",
            recipient="payment_provider",
            category="invoices",
            due_at=NOW + timedelta(days=3),
            assignee_id=dpo.id,
            request_reference=request.reference.lower(),
            now=NOW,
        )
        assert task.request_id == request.id
        assert task.status is TaskStatus.OPEN
        done = complete_task(
            db_session=session,
            staff=dpo,
            task_id=task.id or 0,
            outcome="Sent by email, acknowledged",
            now=NOW + timedelta(days=1),
            told_on=(NOW + timedelta(days=1)).date(),
            told_via="email",
        )
        assert done.status is TaskStatus.DONE
        assert done.done_by == "dpo@desk.example"
        assert done.outcome == "Sent by email, acknowledged"
        assert done.done_at == NOW + timedelta(days=1)

    with db.open_session(store) as session:
        assert _actions(session, request.id) == ["submitted", "task_created", "task_done"]
        event = session.exec(
            select(RequestEvent).where(RequestEvent.action == "task_created")
        ).one()
        assert event.actor_label == "dpo@desk.example"
        assert event.details == {"task_id": task.id, "kind": "notify_recipient", "assignee_id": 1}
        assert verify_audit(db_session=session).ok


@pytest.mark.databases("sqlite")
def test_a_task_is_done_once(store: Engine) -> None:
    with db.transaction(store) as session:
        dpo = make_staff(session, role=StaffRole.DPO, email="dpo@desk.example")
        task = create_task(
            db_session=session,
            staff=dpo,
            kind=TaskKind.MANUAL_CHECK,
            title="Look in the paper archive",
            now=NOW,
        )
        complete_task(
            db_session=session, staff=dpo, task_id=task.id or 0, outcome="Nothing", now=NOW
        )
        with pytest.raises(TaskError, match="no longer open"):
            complete_task(
                db_session=session, staff=dpo, task_id=task.id or 0, outcome="Again", now=NOW
            )
        with pytest.raises(TaskError, match="does not exist"):
            complete_task(db_session=session, staff=dpo, task_id=999, outcome="x", now=NOW)
        with pytest.raises(TaskError, match="Say what was done"):
            complete_task(
                db_session=session, staff=dpo, task_id=task.id or 0, outcome="  ", now=NOW
            )
        # An unlinked task leaves nothing in the audit log.
        assert _actions(session, None) == []


@pytest.mark.databases("sqlite")
def test_a_task_is_refused_for_an_unknown_request_or_an_auditor(store: Engine) -> None:
    with db.transaction(store) as session:
        dpo = make_staff(session, role=StaffRole.DPO, email="dpo@desk.example")
        auditor = make_staff(session, role=StaffRole.AUDITOR, email="audit@desk.example")
        with pytest.raises(TaskError, match="DSR-2026-999999"):
            create_task(
                db_session=session,
                staff=dpo,
                kind=TaskKind.MANUAL_CHECK,
                title="x",
                request_reference="DSR-2026-999999",
                now=NOW,
            )
        with pytest.raises(TaskError, match="cannot be given tasks"):
            create_task(
                db_session=session,
                staff=dpo,
                kind=TaskKind.MANUAL_CHECK,
                title="x",
                assignee_id=auditor.id,
                now=NOW,
            )
        assert session.exec(select(Task)).all() == []


@pytest.mark.databases("sqlite")
def test_tasks_are_listed_by_status_assignee_and_lateness(store: Engine) -> None:
    with db.transaction(store) as session:
        dpo = make_staff(session, role=StaffRole.DPO, email="dpo@desk.example")
        admin = make_staff(session, role=StaffRole.ADMIN, email="admin@desk.example")

        def task(title: str, **fields: object) -> Task:
            return create_task(
                db_session=session,
                staff=dpo,
                kind=TaskKind.MANUAL_CHECK,
                title=title,
                now=NOW,
                **fields,  # type: ignore[arg-type]
            )

        late = task("late", due_at=NOW - timedelta(days=1), assignee_id=dpo.id)
        task("soon", due_at=NOW + timedelta(days=1), assignee_id=admin.id)
        task("whenever")
        finished = task("finished", due_at=NOW - timedelta(days=2), assignee_id=dpo.id)
        complete_task(
            db_session=session, staff=dpo, task_id=finished.id or 0, outcome="ok", now=NOW
        )

        def titles(filters: TaskFilters, **kwargs: int) -> list[str]:
            page = list_tasks(db_session=session, filters=filters, now=NOW, **kwargs)
            return [row.task.title for row in page.rows]

        assert titles(TaskFilters()) == ["late", "soon", "whenever"]
        assert titles(TaskFilters(status=None)) == ["finished", "late", "soon", "whenever"]
        assert titles(TaskFilters(status=TaskStatus.DONE)) == ["finished"]
        assert titles(TaskFilters(assignee_id=dpo.id)) == ["late"]
        assert titles(TaskFilters(unassigned=True)) == ["whenever"]
        assert titles(TaskFilters(status=None, overdue=True)) == ["late"]
        assert titles(TaskFilters(), per_page=2, page=2) == ["whenever"]
        rows = list_tasks(db_session=session, filters=TaskFilters(), now=NOW).rows
        assert [(row.overdue, row.assignee) for row in rows] == [
            (True, "dpo@desk.example"),
            (False, "admin@desk.example"),
            (False, None),
        ]
        assert late.assignee_id == dpo.id


# --- the pages ----------------------------------------------------------------------------------


def _stored_tasks(app: Flask) -> list[Task]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(Task).order_by(col(Task.id))).all())


@pytest.mark.parametrize("role", ROLES)
def test_the_task_list_shows_to_every_role(staff_client: StaffClient, role: str) -> None:
    page = staff_client(role).get("/dashboard/tasks")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<h1>" in text
    can_create = 'href="/dashboard/tasks/new"' in text
    assert can_create is (role != "auditor")


def test_an_anonymous_visitor_is_sent_to_log_in(app: Flask) -> None:
    page = app.test_client().get("/dashboard/tasks")

    assert page.status_code == 302
    assert "/dashboard/tasks" not in page.headers["Location"].split("?")[0]


def test_a_dpo_creates_a_task_for_a_request_and_completes_it(
    app: Flask, staff_client: StaffClient
) -> None:
    with db.transaction(db.get_engine(app)) as session:
        reference = make_request(session).reference
    client = staff_client("dpo")
    form = client.get(f"/dashboard/tasks/new?request={reference}")
    assert form.status_code == 200
    text = form.get_data(as_text=True)
    assert f'value="{reference}"' in text
    assert 'for="title"' in text and 'id="title"' in text  # labelled fields

    created = client.post(
        "/dashboard/tasks/new",
        data={
            "csrf_token": csrf_token(form),
            "kind": "notify_recipient",
            "title": "Tell the payment provider",
            "details": '=HYPERLINK("x")',
            "request_reference": reference,
            "recipient": "payment_provider",
            "category": "invoices",
            "assignee": "",
            "due_on": "2026-04-01",
        },
    )
    assert created.status_code == 302
    (task,) = _stored_tasks(app)
    assert task.title == "Tell the payment provider"
    assert task.due_at is not None
    assert task.due_at.astimezone(PARIS).date() == date(2026, 4, 1)

    listed = client.get("/dashboard/tasks")
    assert "Tell the payment provider" in listed.get_data(as_text=True)
    assert 'id="told-on-' in listed.get_data(as_text=True)  # a recipient's task asks when
    refused = client.post(
        f"/dashboard/tasks/{task.id}/done",
        data={"csrf_token": csrf_token(listed), "outcome": "Sent and acknowledged"},
        follow_redirects=True,
    )
    assert "Give the date the message was sent to the recipient." in refused.get_data(as_text=True)
    (task,) = _stored_tasks(app)
    assert task.status is TaskStatus.OPEN
    done = client.post(
        f"/dashboard/tasks/{task.id}/done",
        data={
            "csrf_token": csrf_token(listed),
            "outcome": "Sent and acknowledged",
            "told_on": "2026-03-02",
            "told_via": "letter",
        },
    )
    assert done.status_code == 302
    (task,) = _stored_tasks(app)
    assert task.status is TaskStatus.DONE
    assert (task.told_on, task.told_via) == (date(2026, 3, 2), "letter")
    assert task.done_by == "dpo@desk.example"
    with db.open_session(db.get_engine(app)) as session:
        assert _actions(session, task.request_id) == ["submitted", "task_created", "task_done"]


def test_a_task_for_an_unknown_request_is_refused_with_a_message(
    staff_client: StaffClient, app: Flask
) -> None:
    client = staff_client("admin")
    form = client.get("/dashboard/tasks/new")
    refused = client.post(
        "/dashboard/tasks/new",
        data={
            "csrf_token": csrf_token(form),
            "kind": "manual_check",
            "title": "Look in the archive",
            "request_reference": "DSR-2026-999999",
        },
    )
    assert refused.status_code == 400
    assert "DSR-2026-999999" in refused.get_data(as_text=True)
    assert _stored_tasks(app) == []


def test_an_auditor_cannot_create_or_complete_tasks(app: Flask, staff_client: StaffClient) -> None:
    dpo = staff_client("dpo")
    form = dpo.get("/dashboard/tasks/new")
    dpo.post(
        "/dashboard/tasks/new",
        data={"csrf_token": csrf_token(form), "kind": "manual_check", "title": "Check"},
    )
    (task,) = _stored_tasks(app)
    auditor = staff_client("auditor")
    token = csrf_token(auditor.get("/dashboard/tasks"))

    assert auditor.get("/dashboard/tasks/new").status_code == 403
    created = auditor.post(
        "/dashboard/tasks/new",
        data={"csrf_token": token, "kind": "manual_check", "title": "Sneaky"},
    )
    assert created.status_code == 403
    done = auditor.post(
        f"/dashboard/tasks/{task.id}/done", data={"csrf_token": token, "outcome": "done"}
    )
    assert done.status_code == 403
    (task,) = _stored_tasks(app)
    assert task.status is TaskStatus.OPEN
