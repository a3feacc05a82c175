"""The dashboard's scheduler page: each job with its next and last run, whether a scheduler holds
the lease, and the latest runs with their counts and kinds of error. A read for every staff
member, auditors included."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import render_template
from sqlalchemy import select
from sqlmodel import col

from dsr.dashboard.blueprint import blueprint
from dsr.dates import shown_moment
from dsr.db import get_session, utcnow
from dsr.i18n import lazy_gettext
from dsr.scheduler.jobs import JOBS
from dsr.scheduler.models import JobRun, SchedulerLease, scheduler_jobs
from dsr.scheduler.process import LEASE_NAME

RUNS_SHOWN = 50

JOB_LABELS: Mapping[str, str] = {
    "outbox": lazy_gettext("Sending the queued emails"),
    "callbacks": lazy_gettext("Calling the systems back"),
    "deadlines": lazy_gettext("Deadline reminders and the daily digest"),
    "task_reminders": lazy_gettext("Task reminders"),
    "expire_unverified": lazy_gettext("Expiring unverified requests"),
    "fail_stuck": lazy_gettext("Failing runs stuck in processing"),
    "purge_reports": lazy_gettext("Deleting expired reports"),
    "minimise_closed": lazy_gettext("Minimising closed requests"),
    "retention": lazy_gettext("Retention sweeps"),
    "legal_holds": lazy_gettext("Ending legal holds"),
    "audit_anchor": lazy_gettext("Emailing the audit log's anchor"),
    "delete_unverified": lazy_gettext("Deleting never-verified requests"),
    "housekeeping": lazy_gettext("Housekeeping of the desk's records"),
}
"""What each job does, as staff read it (a job not named here is shown by its name)."""


def job_label(name: str) -> str:
    return str(JOB_LABELS.get(name, name))


@dataclass(frozen=True, slots=True)
class JobLine:
    name: str
    next_run: datetime | None
    last_run: JobRun | None


@blueprint.get("/scheduler")
def scheduler() -> str:
    """Show the jobs, the lease and the latest runs, newest first."""
    db_session = get_session()
    next_runs = {
        row.id: row.next_run_time
        for row in db_session.execute(select(scheduler_jobs.c.id, scheduler_jobs.c.next_run_time))
    }
    runs = list(
        db_session.execute(
            select(JobRun)
            .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
            .limit(RUNS_SHOWN)
        )
        .scalars()
        .all()
    )
    last: dict[str, JobRun] = {}
    for name in JOBS:
        found = db_session.execute(
            select(JobRun)
            .where(col(JobRun.job) == name)
            .order_by(col(JobRun.started_at).desc())
            .limit(1)
        ).scalar_one_or_none()
        if found is not None:
            last[name] = found
    jobs = [
        JobLine(
            name=name,
            next_run=(
                datetime.fromtimestamp(next_runs[name], UTC)
                if next_runs.get(name) is not None
                else None
            ),
            last_run=last.get(name),
        )
        for name in JOBS
    ]
    lease = db_session.get(SchedulerLease, LEASE_NAME)
    active_lease = lease if lease is not None and lease.expires_at > utcnow() else None
    return render_template(
        "dashboard/scheduler.html",
        jobs=jobs,
        runs=runs,
        lease=active_lease,
        shown_moment=shown_moment,
        job_label=job_label,
    )
