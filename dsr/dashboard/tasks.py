"""The pages of the manual tasks: the list with its filters, a new task, and completing one; what
a task is and the rules of its changes are in `dsr.requests.tasks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import flask_babel  # type: ignore[import-untyped]
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as AnyResponse
from wtforms import DateField, Form, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs: 3.2
from wtforms.validators import DataRequired, Length, Optional

from dsr.accounts.access import current_staff, staff_required
from dsr.accounts.models import WORKING_ROLES, StaffUser
from dsr.dashboard.blueprint import blueprint
from dsr.datamap import desk_map
from dsr.dates import pages_zone
from dsr.db import get_session, utcnow
from dsr.i18n import current_language, gettext, lazy_gettext
from dsr.requests.deadlines import end_of_day
from dsr.requests.models import TaskKind, TaskStatus, TellChannel
from dsr.requests.tasks import (
    DETAILS_MAX,
    OUTCOME_MAX,
    REFERENCE_MAX,
    TITLE_MAX,
    TaskError,
    TaskFilters,
    assignable_staff,
    complete_task,
    create_task,
    list_tasks,
)
from inventory.loader import MapError

TASK_KIND_LABELS = {
    TaskKind.NOTIFY_RECIPIENT: lazy_gettext("Notify a recipient"),
    TaskKind.MANUAL_CHECK: lazy_gettext("Manual check (e.g. a paper archive)"),
}
TELL_CHANNEL_LABELS = {
    TellChannel.EMAIL: lazy_gettext("Email"),
    TellChannel.LETTER: lazy_gettext("Letter"),
    TellChannel.PORTAL: lazy_gettext("The recipient's portal"),
}
TASK_STATUS_LABELS = {
    TaskStatus.OPEN: lazy_gettext("Open"),
    TaskStatus.DONE: lazy_gettext("Done"),
    TaskStatus.CANCELLED: lazy_gettext("Cancelled"),
}


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
    told_on = DateField(
        lazy_gettext("Day the message was sent to the recipient"),
        validators=[Optional()],
        render_kw={"type": "date"},
    )
    told_via = SelectField(
        lazy_gettext("Sent by"),
        choices=[
            SelectChoice("", "—"),
            *(SelectChoice(c.value, label) for c, label in TELL_CHANNEL_LABELS.items()),
        ],
        default="",
        validate_choice=False,
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
        channel_label=_channel_label,
        shown_day=_shown_day,
    )


def _channel_label(value: str | None) -> str:
    try:
        return str(TELL_CHANNEL_LABELS[TellChannel(value or "")])
    except ValueError:
        return value or "—"


def _shown_day(day: date) -> str:
    """Return a calendar date (no time, no zone to move it) in the current locale."""
    return str(flask_babel.format_date(day, format="long"))


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
        if form.told_on.errors:
            message = gettext("Give the day the message was sent as a date.")
        else:
            message = gettext("Say what was done before marking the task done.")
        flash(message, "error")
        return redirect(url_for("dashboard.tasks"))
    try:
        complete_task(
            db_session=get_session(),
            staff=_staff(),
            task_id=task_id,
            outcome=form.outcome.data or "",
            now=utcnow(),
            told_on=form.told_on.data,
            told_via=form.told_via.data or None,
        )
    except TaskError as error:
        flash(error.message, "error")
        return redirect(url_for("dashboard.tasks"))
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
