"""Manual tasks: work a person does outside the systems the desk changes (tell a recipient of the
data, look in a paper archive), with an assignee, a due date and an outcome once done.

Service functions take the session and flush; the request boundary commits. A task linked to a
request leaves an audit event on that request at each change (created, done), naming the staff
member and the task, never what the task says (free text may hold personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from dsr.accounts.models import WORKING_ROLES, StaffUser
from dsr.audit.models import record_action
from dsr.db import table_of
from dsr.i18n import gettext
from dsr.requests.models import DataRequest, Task, TaskKind, TaskStatus, TellChannel
from dsr.requests.recipients_told import tell_requester_when_all_told
from dsr.requests.status import get_by_reference
from dsr.requests.workflow import Actor

TITLE_MAX = 200
DETAILS_MAX = 5000
OUTCOME_MAX = 5000
REFERENCE_MAX = 20
TASKS_PER_PAGE = 50


class TaskError(Exception):
    """A change to a task that the desk refuses; `message` is written for the staff member."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _request_by_reference(db_session: Session, reference: str) -> DataRequest:
    found = get_by_reference(db_session, reference)
    if found is None:
        raise TaskError(gettext("No request has the reference %(reference)s.", reference=reference))
    return found


def create_task(
    *,
    db_session: Session,
    staff: StaffUser,
    kind: TaskKind,
    title: str,
    now: datetime,
    details: str | None = None,
    recipient: str | None = None,
    category: str | None = None,
    due_at: datetime | None = None,
    assignee_id: int | None = None,
    request_reference: str | None = None,
) -> Task:
    """Add an open task, linked to the request of `request_reference` if given (audited there).

    Raise TaskError for an unknown reference or an assignee who cannot work tasks.
    """
    data_request = (
        _request_by_reference(db_session, request_reference) if request_reference else None
    )
    if assignee_id is not None:
        assignee = db_session.get(StaffUser, assignee_id)
        if assignee is None or not assignee.active or assignee.role not in WORKING_ROLES:
            raise TaskError(gettext("This person cannot be given tasks."))
    task = Task(
        request_id=None if data_request is None else data_request.id,
        kind=kind,
        title=title.strip(),
        details=(details or "").strip() or None,
        recipient=recipient or None,
        category=category or None,
        created_at=now,
        due_at=due_at,
        assignee_id=assignee_id,
    )
    db_session.add(task)
    db_session.flush()
    if data_request is not None:
        record_action(
            db_session=db_session,
            request=data_request,
            actor=Actor.STAFF,
            actor_label=staff.email,
            action="task_created",
            at=now,
            details={"task_id": task.id, "kind": kind.value, "assignee_id": assignee_id},
        )
    return task


def complete_task(
    *,
    db_session: Session,
    staff: StaffUser,
    task_id: int,
    outcome: str,
    now: datetime,
    told_on: date | None = None,
    told_via: str | None = None,
) -> Task:
    """Mark an open task done with its outcome (audited on its request, if any).

    A recipient's task needs the day the message was sent (`told_on`, not in the future) and
    its channel (`told_via`, a TellChannel): what the desk later tells the requester. When the
    last recipient's task of a request is done, the requester is told who was informed.

    The change is conditional on the task still being open, so two people completing it at once
    get one success and one TaskError, never two outcomes.
    """
    outcome = outcome.strip()
    if not outcome:
        raise TaskError(gettext("Say what was done."))
    found = db_session.get(Task, task_id)
    if found is None:
        raise TaskError(gettext("This task does not exist."))
    values: dict[str, Any] = {}
    if found.kind is TaskKind.NOTIFY_RECIPIENT:
        of = db_session.get(DataRequest, found.request_id) if found.request_id else None
        zone = of.zone if of is not None else UTC
        values = {"told_on": _told_on(told_on, now, zone), "told_via": _told_via(told_via)}
    tasks = table_of(Task)
    done: CursorResult[Any] = db_session.execute(  # type: ignore[assignment]
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.status == TaskStatus.OPEN)
        .values(status=TaskStatus.DONE, done_at=now, done_by=staff.email, outcome=outcome, **values)
    )
    if done.rowcount != 1:
        raise TaskError(gettext("This task is no longer open: someone completed it already."))
    task = db_session.get(Task, task_id, populate_existing=True)
    assert task is not None  # noqa: S101  # it was just updated
    if task.request_id is not None:
        data_request = db_session.get(DataRequest, task.request_id)
        details: dict[str, Any] = {"task_id": task.id, "kind": task.kind.value}
        if task.told_on is not None:
            details |= {"told_on": task.told_on.isoformat(), "told_via": task.told_via}
        record_action(
            db_session=db_session,
            request=data_request,
            actor=Actor.STAFF,
            actor_label=staff.email,
            action="task_done",
            at=now,
            details=details,
        )
        if data_request is not None and task.kind is TaskKind.NOTIFY_RECIPIENT:
            tell_requester_when_all_told(db_session, data_request, task, now=now)
    db_session.flush()
    return task


def _told_on(told_on: date | None, now: datetime, zone: tzinfo) -> date:
    """The day the recipient was told, not after today on the request's calendar."""
    if told_on is None:
        raise TaskError(gettext("Give the date the message was sent to the recipient."))
    if told_on > now.astimezone(zone).date():
        raise TaskError(gettext("The date the recipient was told cannot be in the future."))
    return told_on


def _told_via(told_via: str | None) -> str:
    try:
        return TellChannel((told_via or "").strip()).value
    except ValueError:
        raise TaskError(
            gettext("Say how the recipient was told: by email, by letter or through its portal.")
        ) from None


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """Which tasks to list: by status (None: all), assignee, and only the overdue ones."""

    status: TaskStatus | None = TaskStatus.OPEN
    assignee_id: int | None = None
    unassigned: bool = False
    overdue: bool = False


@dataclass(frozen=True, slots=True)
class TaskRow:
    task: Task
    reference: str | None
    assignee: str | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class TaskPage:
    rows: list[TaskRow]
    total: int
    page: int
    pages: int


def list_tasks(
    *,
    db_session: Session,
    filters: TaskFilters,
    now: datetime,
    page: int = 1,
    per_page: int = TASKS_PER_PAGE,
) -> TaskPage:
    """Return one page of the tasks that match `filters`, soonest due first (no date last)."""
    conditions: list[Any] = []
    if filters.status is not None:
        conditions.append(col(Task.status) == filters.status)
    if filters.unassigned:
        conditions.append(col(Task.assignee_id).is_(None))
    elif filters.assignee_id is not None:
        conditions.append(col(Task.assignee_id) == filters.assignee_id)
    if filters.overdue:
        conditions.append(col(Task.status) == TaskStatus.OPEN)
        conditions.append(col(Task.due_at) < now)
    total = db_session.exec(select(func.count()).select_from(Task).where(*conditions)).one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    statement = (
        select(Task, DataRequest.reference, StaffUser.name, StaffUser.email)
        .outerjoin(DataRequest, col(DataRequest.id) == col(Task.request_id))
        .outerjoin(StaffUser, col(StaffUser.id) == col(Task.assignee_id))
        .where(*conditions)
        .order_by(col(Task.due_at).is_(None), col(Task.due_at), col(Task.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    rows = [
        TaskRow(
            task=task,
            reference=reference,
            assignee=(name or email) if email is not None else None,
            overdue=task.status is TaskStatus.OPEN
            and task.due_at is not None
            and task.due_at < now,
        )
        for task, reference, name, email in db_session.exec(statement)
    ]
    return TaskPage(rows=rows, total=total, page=page, pages=pages)


def assignable_staff(*, db_session: Session) -> list[StaffUser]:
    """Return the active staff who can be given tasks, by name."""
    return list(
        db_session.exec(
            select(StaffUser)
            .where(col(StaffUser.active), col(StaffUser.role).in_(WORKING_ROLES))
            .order_by(col(StaffUser.name), col(StaffUser.email))
        ).all()
    )
