"""The scheduled jobs: what runs when, and how each run is recorded.

The jobs on requests live in dsr.requests.jobs; the mail, callback, report and retention jobs
call their packages' services. `run_job` records each run in `dsr_job_run`.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy.engine import Engine

from dsr import db
from dsr.requests.jobs import (
    expire_unverified,
    fail_stuck_processing,
    minimise_closed,
    send_deadline_notices,
)
from dsr.requests.task_jobs import send_task_notices
from dsr.requests.unverified import delete_unverified
from dsr.scheduler.housekeeping import keep_own_records
from dsr.scheduler.models import JobRun
from dsr.scheduler.runs import Job, JobOutcome, SchedulerSettings

log = logging.getLogger(__name__)


# --- the jobs of the other packages -------------------------------------------------------------


def deliver_outbox(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Send the emails that are due."""
    from dsr.outbox.service import deliver_due

    report = deliver_due(engine_or_session_factory=engine, settings=settings.smtp, now=now)
    outcome.items_done += report.sent
    if report.failed:
        outcome.failed("DeliveryFailed", report.failed)


def deliver_callbacks(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """POST the API status callbacks that are due."""
    from dsr.api.callbacks import deliver_due_callbacks

    report = deliver_due_callbacks(
        engine=engine,
        secret_key=settings.secret_key,
        now=now,
        allowed_networks=settings.callback_allowed_networks,
    )
    outcome.items_done += report.sent
    if report.failed:
        outcome.failed("CallbackFailed", report.failed)


def purge_reports(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Delete delivered reports and collected data whose download window is over."""
    from dsr.delivery.service import purge_expired_reports

    outcome.items_done += purge_expired_reports(engine=engine, now=now)


def retention_available() -> bool:
    """Tell whether this version has the retention sweeps (dsr.retention.service)."""
    return importlib.util.find_spec("dsr.retention.service") is not None


def sweep_retention(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Record tonight's dry run of the map's retention periods (dsr.retention.approval), then
    warn and sweep in batches, unless the sweep waits for a person's approval on the dashboard."""
    from dsr.retention.approval import nightly_sweep
    from dsr.retention.models import SweepStatus

    sweep = nightly_sweep(engine=engine, settings=settings.run, now=now)
    if sweep.status is SweepStatus.WAITING:
        outcome.failed("WaitingForApproval")
    for result in sweep.outcome or ():
        outcome.items_done += int(result["rows"]) + sum(result["followers"].values())
        outcome.items_done += int(result["warnings_sent"])


def release_holds(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """End the legal holds whose last day has passed (or lifted): erase what they kept, or open
    a task for staff when that cannot be done safely (dsr.holds.release)."""
    from dsr.holds.release import release_ended_holds

    report = release_ended_holds(engine=engine, settings=settings.run, now=now)
    outcome.items_done += report.ended
    if report.tasks:
        outcome.failed("LeftToStaff", len(report.tasks))
    if report.failed:
        outcome.failed("HoldNotReleased", report.failed)


def email_audit_anchor(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Email the audit chain's anchor to the DPOs and admins, unless DSR_AUDIT_ANCHOR_EMAIL is
    false, so that a copy they keep outside the store shows a rewrite of the whole log."""
    from dsr.audit.anchor import LogNotIntact, email_anchor, take_anchor
    from dsr.config import setting_on

    if not setting_on(settings.run, "AUDIT_ANCHOR_EMAIL"):
        return
    with db.transaction(engine) as db_session:
        try:
            anchor = take_anchor(db_session=db_session, now=now)
        except LogNotIntact:
            outcome.failed("AuditLogNotIntact")
            return
        outcome.items_done += email_anchor(
            db_session=db_session, anchor=anchor, language=settings.staff_language, now=now
        )


_RETENTION: Mapping[str, Job] = {"retention": sweep_retention} if retention_available() else {}

JOBS: Mapping[str, Job] = MappingProxyType(
    {
        **_RETENTION,
        "outbox": deliver_outbox,
        "callbacks": deliver_callbacks,
        "deadlines": send_deadline_notices,
        "task_reminders": send_task_notices,
        "expire_unverified": expire_unverified,
        "fail_stuck": fail_stuck_processing,
        "purge_reports": purge_reports,
        "minimise_closed": minimise_closed,
        "legal_holds": release_holds,
        "audit_anchor": email_audit_anchor,
        "delete_unverified": delete_unverified,
        "housekeeping": keep_own_records,
    }
)
"""Every job by name, as `dsr scheduler run-once NAME` and the dashboard call them."""

SCHEDULES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "outbox": {"trigger": "interval", "minutes": 1},
        "callbacks": {"trigger": "interval", "minutes": 1},
        "deadlines": {"trigger": "cron", "hour": 7, "minute": 0},
        "task_reminders": {"trigger": "cron", "hour": 7, "minute": 15},
        "expire_unverified": {"trigger": "interval", "hours": 1},
        "fail_stuck": {"trigger": "interval", "minutes": 30},
        "purge_reports": {"trigger": "cron", "hour": 3, "minute": 0},
        "minimise_closed": {"trigger": "cron", "hour": 3, "minute": 30},
        "retention": {"trigger": "cron", "hour": 2, "minute": 0},
        "legal_holds": {"trigger": "cron", "hour": 1, "minute": 30},
        "audit_anchor": {"trigger": "cron", "day_of_week": "mon", "hour": 6, "minute": 0},
        "delete_unverified": {"trigger": "cron", "hour": 3, "minute": 45},
        "housekeeping": {"trigger": "cron", "hour": 4, "minute": 0},
    }
)
"""When each job runs (APScheduler trigger arguments; cron times in UTC)."""


def run_job(name: str, *, engine: Engine, settings: SchedulerSettings, now: datetime) -> JobRun:
    """Run the job `name` once at `now` and record the run; a job that raises is recorded as
    one error (its class only) and does not propagate."""
    job = JOBS[name]
    with db.transaction(engine) as db_session:
        run = JobRun(job=name, started_at=db.utcnow())
        db_session.add(run)
    outcome = JobOutcome()
    try:
        job(engine, settings, now, outcome)
    except Exception as error:
        log.error("job %s failed: %s", name, type(error).__name__)
        outcome.failed(type(error).__name__)
    with db.transaction(engine) as db_session:
        run.finished_at = db.utcnow()
        run.items_done = outcome.items_done
        run.errors = outcome.errors
        run.error_summary = outcome.summary()
        db_session.add(run)
    log.info("job %s: %d done, %d errors", name, outcome.items_done, outcome.errors)
    return run
