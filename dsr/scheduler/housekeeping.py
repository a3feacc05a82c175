"""The `housekeeping` job: the desk's own logs and records kept no longer than their period (R43).

Each sweep deletes, in batches of its own transactions, the rows of one record past its period
(`dsr.records.RecordPeriods`, the README's table of records says why each period):

- the scheduler's job runs, and the workers' run leases and progress of requests closed since;
- emails once sent (never one still to send, nor one that failed: staff may send it again);
  its dedup key is then free again, so a deadline alert about a request still overdue a whole
  period later is sent once more, a reminder rather than a duplicate;
- API status callbacks once delivered (never one still to deliver or failed);
- the security records the store keeps: staff recovery codes once used, and download links
  (their code attempts and locks) once expired.

One audit event, without personal data, gives the counts deleted per table.

The job also folds the deltas of the closed requests' counts into their totals
(`dsr.requests.closed_counts`): not a record, only the store's own arithmetic, so neither counted
nor audited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.engine import Engine

from dsr import db
from dsr.accounts.models import StaffRecoveryCode
from dsr.api.models import CallbackDelivery, CallbackDeliveryStatus
from dsr.audit.models import record_action
from dsr.delivery.models import DownloadLink
from dsr.execution.runs import RequestRun, RunProgress
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.records import RecordPeriods
from dsr.requests.closed_counts import fold_closed_counts
from dsr.requests.models import DataRequest
from dsr.requests.workflow import TERMINAL, Actor
from dsr.scheduler.models import JobRun
from dsr.scheduler.runs import JobOutcome, SchedulerSettings

HOUSEKEEPING_ACTION = "housekeeping"
BATCH_SIZE = 5000


@dataclass(frozen=True, slots=True)
class Sweep:
    """The rows of `table` to delete: its key `key` where `expired(cutoff)`, the cutoff being
    now minus the period `days` gives."""

    table: Table
    key: str
    days: Callable[[RecordPeriods], int]
    expired: Callable[[Table, datetime], ColumnElement[bool]]


def _closed_run(table: Table, cutoff: datetime) -> ColumnElement[bool]:
    """The rows of a request's run (lease or progress) whose request is closed and whose run
    started before `cutoff`."""
    runs, requests = db.table_of(RequestRun), db.table_of(DataRequest)
    old_closed = (
        select(runs.c.request_id)
        .join(requests, requests.c.id == runs.c.request_id)
        .where(runs.c.started_at <= cutoff, requests.c.status.in_([s.value for s in TERMINAL]))
    )
    return table.c.request_id.in_(old_closed)


def _sent_before(status: StrEnum) -> Callable[[Table, datetime], ColumnElement[bool]]:
    def expired(table: Table, cutoff: datetime) -> ColumnElement[bool]:
        return (table.c.status == status.value) & (table.c.sent_at <= cutoff)

    return expired


SWEEPS: Sequence[Sweep] = (
    Sweep(
        db.table_of(JobRun),
        "id",
        lambda periods: periods.job_run_days,
        lambda table, cutoff: (table.c.started_at <= cutoff) & table.c.finished_at.is_not(None),
    ),
    # progress first: its rows are chosen by the run's start, which goes with the run
    Sweep(db.table_of(RunProgress), "request_id", lambda p: p.job_run_days, _closed_run),
    Sweep(db.table_of(RequestRun), "request_id", lambda p: p.job_run_days, _closed_run),
    Sweep(
        db.table_of(OutboxMessage),
        "id",
        lambda periods: periods.outbox_days,
        _sent_before(OutboxStatus.SENT),
    ),
    Sweep(
        db.table_of(CallbackDelivery),
        "id",
        lambda periods: periods.callback_days,
        _sent_before(CallbackDeliveryStatus.SENT),
    ),
    Sweep(
        db.table_of(StaffRecoveryCode),
        "id",
        lambda periods: periods.security_log_days,
        lambda table, cutoff: table.c.used_at <= cutoff,
    ),
    Sweep(
        db.table_of(DownloadLink),
        "id",
        lambda periods: periods.security_log_days,
        lambda table, cutoff: table.c.expires_at <= cutoff,
    ),
)
"""Every record the job keeps short, in the order it sweeps them."""


def sweep_records(engine: Engine, sweep: Sweep, cutoff: datetime) -> int:
    """Delete the rows of `sweep` expired at `cutoff`, a batch per transaction; return how many."""
    table, deleted = sweep.table, 0
    key = table.c[sweep.key]
    while True:
        with db.transaction(engine) as db_session:
            keys = list(
                db_session.execute(
                    select(key).where(sweep.expired(table, cutoff)).order_by(key).limit(BATCH_SIZE)
                ).scalars()
            )
            if keys:
                db_session.execute(delete(table).where(key.in_(keys)))
        deleted += len(keys)
        if len(keys) < BATCH_SIZE:
            return deleted


def keep_own_records(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Delete the desk's own records past their periods, and fold the closed requests' counts
    (see the module's docstring)."""
    with db.transaction(engine) as db_session:
        fold_closed_counts(db_session)
    counts: dict[str, int] = {}
    for sweep in SWEEPS:
        cutoff = now - timedelta(days=sweep.days(settings.records))
        deleted = sweep_records(engine, sweep, cutoff)
        if deleted:
            counts[sweep.table.name] = counts.get(sweep.table.name, 0) + deleted
    outcome.items_done += sum(counts.values())
    if counts:
        with db.transaction(engine) as db_session:
            record_action(
                db_session=db_session,
                actor=Actor.SYSTEM,
                action=HOUSEKEEPING_ACTION,
                at=now,
                details={"rows": counts},
            )
