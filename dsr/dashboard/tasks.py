"""Manual tasks: work a person does outside the systems the desk changes (tell a recipient of the
data, look in a paper archive), with an assignee, a due date and an outcome once done.

Service functions take the session and flush; the request boundary commits. A task linked to a
request leaves an audit event on that request at each change (created, done), naming the staff
member and the task, never what the task says (free text may hold personal data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as AnyResponse
from wtforms import DateField, Form, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Length, Optional

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import StaffRole, StaffUser
from dsr.audit.models import record_action
from dsr.dashboard.blueprint import blueprint
from dsr.datamap import desk_map
from dsr.dates import pages_zone
from dsr.db import get_session, table_of, utcnow
from dsr.i18n import current_language, gettext, lazy_gettext
from dsr.requests.models import DataRequest, Task, TaskKind, TaskStatus
from dsr.requests.status import get_by_reference
from dsr.requests.workflow import Actor
from inventory.loader import MapError

TITLE_MAX = 200
DETAILS_MAX = 5000
OUTCOME_MAX = 5000
REFERENCE_MAX = 20
TASKS_PER_PAGE = 50
WORKING_ROLES = (StaffRole.ADMIN, StaffRole.DPO)
"""Who may create and complete tasks; auditors only read them."""

TASK_KIND_LABELS = {
    TaskKind.NOTIFY_RECIPIENT: lazy_gettext("Notify a recipient"),
    TaskKind.MANUAL_CHECK: lazy_gettext("Manual check (e.g. a paper archive)"),
}
TASK_STATUS_LABELS = {
    TaskStatus.OPEN: lazy_gettext("Open"),
    TaskStatus.DONE: lazy_gettext("Done"),
    TaskStatus.CANCELLED: lazy_gettext("Cancelled"),
}


class TaskError(Exception):
    """A change to a task that the desk refuses; `message` is written for the staff member."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the service --------------------------------------------------------------------------------


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
    *, db_session: Session, staff: StaffUser, task_id: int, outcome: str, now: datetime
) -> Task:
    """Mark an open task done with its outcome (audited on its request, if any).

    The change is conditional on the task still being open, so two people completing it at once
    get one success and one TaskError, never two outcomes.
    """
    outcome = outcome.strip()
    if not outcome:
        raise TaskError(gettext("Say what was done."))
    tasks = table_of(Task)
    done: CursorResult[Any] = db_session.execute(  # type: ignore[assignment]
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.status == TaskStatus.OPEN)
        .values(status=TaskStatus.DONE, done_at=now, done_by=staff.email, outcome=outcome)
    )
    if done.rowcount != 1:
        if db_session.get(Task, task_id) is None:
            raise TaskError(gettext("This task does not exist."))
        raise TaskError(gettext("This task is no longer open: someone completed it already."))
    task = db_session.get(Task, task_id, populate_existing=True)
    assert task is not None  # noqa: S101  # it was just updated
    if task.request_id is not None:
        data_request = db_session.get(DataRequest, task.request_id)
        record_action(
            db_session=db_session,
            request=data_request,
            actor=Actor.STAFF,
            actor_label=staff.email,
            action="task_done",
            at=now,
            details={"task_id": task.id, "kind": task.kind.value},
        )
    db_session.flush()
    return task


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


def end_of_day(day: date, zone: tzinfo) -> datetime:
    """Return the last instant of `day` in `zone`: a task due that day is late the day after."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) - timedelta(
        microseconds=1
    )


# --- the forms ----------------------------------------------------------------------------------


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class TaskFilterForm(Form):
    """The filters of the task list, read from the query string."""

    status = SelectField(lazy_gettext("Status"), validate_choice=False)
    assignee = SelectField(lazy_gettext("Assigned to"), validate_choice=False)
    overdue = SelectField(lazy_gettext("Deadline"), validate_choice=False)


class TaskForm(Form):
    """A new manual task."""

    kind = SelectField(
        lazy_gettext("Kind of task"),
        choices=[SelectChoice(kind.value, label) for kind, label in TASK_KIND_LABELS.items()],
        validators=[DataRequired(lazy_gettext("Choose the kind of task."))],
    )
    title = StringField(
        lazy_gettext("What to do"),
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Say what to do.")),
            Length(
                max=TITLE_MAX,
                message=lazy_gettext("Keep this under %(max)d characters.", max=TITLE_MAX),
            ),
        ],
        render_kw={"maxlength": TITLE_MAX},
    )
    details = TextAreaField(
        lazy_gettext("Details"),
        filters=[_stripped],
        validators=[
            Optional(),
            Length(
                max=DETAILS_MAX,
                message=lazy_gettext("Keep this under %(max)d characters.", max=DETAILS_MAX),
            ),
        ],
        render_kw={"rows": 4, "maxlength": DETAILS_MAX},
    )
    request_reference = StringField(
        lazy_gettext("Request reference (optional)"),
        filters=[_stripped],
        validators=[Optional(), Length(max=REFERENCE_MAX)],
        render_kw={"maxlength": REFERENCE_MAX, "placeholder": "DSR-2026-000123"},
    )
    recipient = SelectField(lazy_gettext("Recipient of the data (optional)"), default="")
    category = SelectField(lazy_gettext("Category of data (optional)"), default="")
    assignee = SelectField(lazy_gettext("Assigned to"), default="")
    due_on = DateField(
        lazy_gettext("Due on (optional)"),
        validators=[Optional()],
        render_kw={"type": "date"},
    )


class CompleteForm(Form):
    """The outcome of a task being marked done."""

    outcome = TextAreaField(
        lazy_gettext("Outcome"),
        filters=[_stripped],
        validators=[
            DataRequired(lazy_gettext("Say what was done.")),
            Length(
                max=OUTCOME_MAX,
                message=lazy_gettext("Keep this under %(max)d characters.", max=OUTCOME_MAX),
            ),
        ],
        render_kw={"rows": 3, "maxlength": OUTCOME_MAX},
    )


# --- the views ----------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return pages_zone()


def _staff() -> StaffUser:
    staff = current_staff()
    if staff is None:
        abort(403)
    return staff


def _map_choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return the recipients and categories of the data map to choose from (none if it fails)."""
    try:
        data_map = desk_map(current_app.config)
    except MapError:
        return [], []
    language = current_language().value
    recipients = [(key, one.name.get(language)) for key, one in data_map.recipients.items()]
    categories = [(key, one.title.get(language)) for key, one in data_map.categories.items()]
    return recipients, categories


def _task_form(formdata: MultiDict[str, str] | None, staff: Sequence[StaffUser]) -> TaskForm:
    form = TaskForm(formdata)
    recipients, categories = _map_choices()
    form.recipient.choices = [("", gettext("None")), *recipients]
    form.category.choices = [("", gettext("None")), *categories]
    form.assignee.choices = [
        ("", gettext("Nobody yet")),
        *((str(one.id), one.shown_name) for one in staff),
    ]
    if formdata is None and (reference := request.args.get("request", "")):
        form.request_reference.data = reference[:REFERENCE_MAX]
    return form


def _filters_from(
    args: MultiDict[str, str], staff: StaffUser
) -> tuple[TaskFilterForm, TaskFilters]:
    form = TaskFilterForm(args)
    form.status.choices = [
        ("open", gettext("Open")),
        ("done", gettext("Done")),
        ("all", gettext("All")),
    ]
    form.assignee.choices = [
        ("", gettext("Anyone")),
        ("me", gettext("Me")),
        ("nobody", gettext("Nobody")),
        *((str(one.id), one.shown_name) for one in assignable_staff(db_session=get_session())),
    ]
    form.overdue.choices = [("", gettext("Any")), ("overdue", gettext("Overdue only"))]
    shown_statuses = {"open": TaskStatus.OPEN, "done": TaskStatus.DONE, "all": None}
    status_value = args.get("status", "open")
    if status_value not in shown_statuses:
        status_value = "open"
    status = shown_statuses[status_value]
    form.status.data = status_value
    assignee = args.get("assignee", "")
    assignee_id: int | None = None
    if assignee == "me":
        assignee_id = staff.id
    elif assignee.isdigit():
        assignee_id = int(assignee)
    filters = TaskFilters(
        status=status,
        assignee_id=assignee_id,
        unassigned=assignee == "nobody",
        overdue=args.get("overdue") == "overdue",
    )
    return form, filters


@blueprint.get("/tasks")
def tasks() -> str:
    """List the tasks, open ones by default, soonest due first."""
    staff = _staff()
    form, filters = _filters_from(request.args, staff)
    page = request.args.get("page", "1")
    shown = list_tasks(
        db_session=get_session(),
        filters=filters,
        now=utcnow(),
        page=int(page) if page.isdigit() else 1,
    )
    query = {key: value for key, value in request.args.items() if key != "page"}
    return render_template(
        "dashboard/tasks.html",
        filter_form=form,
        tasks=shown,
        query=query,
        can_work=staff.role in WORKING_ROLES,
        complete_form=CompleteForm(),
        kind_label=TASK_KIND_LABELS.__getitem__,
        task_status_label=TASK_STATUS_LABELS.__getitem__,
    )


@blueprint.route("/tasks/new", methods=["GET", "POST"])
@staff_required(*WORKING_ROLES)
def new_task() -> ResponseReturnValue:
    """Show the form of a new task; create it and go back to the list (PRG)."""
    staff = _staff()
    db_session = get_session()
    form = _task_form(
        request.form if request.method == "POST" else None,
        assignable_staff(db_session=db_session),
    )
    if request.method == "POST" and form.validate():
        due_on: date | None = form.due_on.data
        try:
            create_task(
                db_session=db_session,
                staff=staff,
                kind=TaskKind(form.kind.data),
                title=form.title.data or "",
                details=form.details.data,
                recipient=form.recipient.data,
                category=form.category.data,
                due_at=None if due_on is None else end_of_day(due_on, _zone()),
                assignee_id=int(form.assignee.data) if form.assignee.data else None,
                request_reference=form.request_reference.data,
                now=utcnow(),
            )
        except TaskError as error:
            form.form_errors.append(error.message)
        else:
            flash(gettext("The task was created."), "info")
            return redirect(url_for("dashboard.tasks"))
    status = 400 if request.method == "POST" else 200
    return render_template("dashboard/task_form.html", form=form), status


@blueprint.post("/tasks/<int:task_id>/done")
@staff_required(*WORKING_ROLES)
def complete(task_id: int) -> AnyResponse:
    """Mark a task done with its outcome, then go back to the list (PRG)."""
    form = CompleteForm(request.form)
    if not form.validate():
        flash(gettext("Say what was done before marking the task done."), "error")
        return redirect(url_for("dashboard.tasks"))
    try:
        complete_task(
            db_session=get_session(),
            staff=_staff(),
            task_id=task_id,
            outcome=form.outcome.data or "",
            now=utcnow(),
        )
    except TaskError as error:
        flash(error.message, "error")
    else:
        flash(gettext("The task is done."), "info")
    return redirect(url_for("dashboard.tasks"))


__all__ = [
    "CompleteForm",
    "TaskError",
    "TaskFilters",
    "TaskForm",
    "assignable_staff",
    "complete_task",
    "create_task",
    "end_of_day",
    "list_tasks",
]
