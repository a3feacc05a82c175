"""The scheduled reminders of open manual tasks (a recipient to tell, an archive to search): once
when a task is due within TASK_REMINDER_DAYS, once when it is overdue, to its assignee, else to
every DPO and admin. The outbox's dedup key (task, kind, due date, staff member) makes each go
once however often the job runs; the emails name the task by its number, recipient and request
reference: never its free text, which may hold personal data."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.accounts.models import StaffUser
from dsr.datamap import organisation_zone
from dsr.dates import written_date
from dsr.outbox.emails import render_email
from dsr.requests.jobs import dashboard_url, deadline_staff, queue_once
from dsr.requests.models import DataRequest, Task, TaskStatus
from dsr.scheduler.runs import JobOutcome, SchedulerSettings, each_item

TASK_REMINDER_DAYS = 3
"""Staff are reminded of an open task this many days before it is due."""


def task_notice(due_at: datetime, now: datetime) -> str | None:
    """Return which notice a task due at `due_at` calls for at `now` (None: not yet)."""
    if now >= due_at:
        return "task_overdue"
    if now >= due_at - timedelta(days=TASK_REMINDER_DAYS):
        return "task_due_soon"
    return None


def send_task_notices(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Remind staff of the open tasks due soon and alert them of overdue ones, once each."""
    language = settings.staff_language
    with db.open_session(engine) as db_session:
        ids = list(
            db_session.exec(
                select(Task.id)
                .where(col(Task.status) == TaskStatus.OPEN)
                .where(col(Task.due_at) <= now + timedelta(days=TASK_REMINDER_DAYS))
                .order_by(col(Task.due_at))
            ).all()
        )

    def notify(task_id: int) -> bool:
        with db.transaction(engine) as db_session:
            task = db_session.get(Task, task_id)
            if task is None or task.status is not TaskStatus.OPEN or task.due_at is None:
                return False
            kind = task_notice(task.due_at, now)
            if kind is None:
                return False
            request = db_session.get(DataRequest, task.request_id) if task.request_id else None
            assignee = db_session.get(StaffUser, task.assignee_id) if task.assignee_id else None
            staff = [assignee] if assignee and assignee.active else deadline_staff(db_session)
            email = render_email(
                kind,
                language,
                task_id=task.id,
                recipient=task.recipient or "",
                reference=request.reference if request is not None else "—",
                request_url=(
                    dashboard_url(settings, request.reference) if request is not None else None
                ),
                due_on=written_date(
                    task.due_at,
                    language,
                    request.zone if request is not None else organisation_zone(settings.run),
                ),
            )
            queued = False
            for one in staff:
                key = f"{kind}:{task.id}:{task.due_at.isoformat()}:{one.id}"
                if queue_once(db_session, one, email, language, key, now):
                    queued = True
            return queued

    each_item("tasks", outcome, ids, notify)
