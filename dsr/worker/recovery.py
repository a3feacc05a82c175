"""Find again the runs a worker lost, and queue them: Huey removes a message when a worker takes
it, so a worker that dies mid-run takes the message with it, and a queue that was unreachable
when a request was approved never got one. The store still knows both:

- a request `processing` whose run's lease ran out (its worker died): queued again, and the run
  is taken over by one worker (dsr.execution.runner);
- a request `approved` longer ago than WORKER_RECOVERY_GRACE_MINUTES with EXECUTE_AFTER_APPROVAL
  on: queued again (a run that already started finds it processing and does nothing);
- a retention sweep a person approved longer ago than the same grace and still `approved` (its
  job was lost): queued again (the first job claims it: dsr.retention.approval.carry_out).

It runs when `dsr worker` starts and every minute as a periodic job of the workers themselves
(not of `dsr scheduler`): the workers are what must be running for runs to happen at all, and
each recovery only queues wake-ups, so several workers doing it at once is harmless.
Emails and callbacks need nothing here: the scheduler's jobs retry what is due.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.config import DEFAULTS, setting_on
from dsr.execution.runs import RequestRun
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, Status
from dsr.retention.models import RetentionSweep, SweepStatus
from dsr.worker.queue import enqueue_job, queue_for

log = logging.getLogger(__name__)

BATCH = 500
"""Requests one recovery queues at most; the next one takes the rest."""


def runs_to_recover(
    db_session: Session, *, now: datetime, grace: timedelta, approved_too: bool
) -> list[int]:
    """Return the requests whose run must be queued again, oldest lease first."""
    from dsr.execution.runner import EXECUTORS, _load_executors

    _load_executors()
    lost = db_session.exec(
        select(DataRequest.id)
        .join(RequestRun, col(RequestRun.request_id) == col(DataRequest.id))
        .where(
            DataRequest.status == Status.PROCESSING,
            col(RequestRun.lease_until).is_not(None),
            col(RequestRun.lease_until) < now,
        )
        .order_by(col(RequestRun.lease_until))
        .limit(BATCH)
    ).all()
    found = [request_id for request_id in lost if request_id is not None]
    if approved_too:
        approved_at = func.max(RequestEvent.at)
        waiting = db_session.exec(
            select(DataRequest.id)
            .join(RequestEvent, col(RequestEvent.request_id) == col(DataRequest.id))
            .where(
                DataRequest.status == Status.APPROVED,
                col(DataRequest.type).in_(list(EXECUTORS)),
                RequestEvent.action == Action.APPROVE.value,
            )
            .group_by(col(DataRequest.id))
            .having(approved_at < now - grace)
            .limit(BATCH)
        ).all()
        found.extend(request_id for request_id in waiting if request_id is not None)
    return found


def sweeps_to_recover(db_session: Session, *, now: datetime, grace: timedelta) -> list[int]:
    """Return the retention sweeps approved longer than `grace` ago whose run never started."""
    return [
        sweep_id
        for sweep_id in db_session.exec(
            select(RetentionSweep.id)
            .where(
                RetentionSweep.status == SweepStatus.APPROVED,
                col(RetentionSweep.approved_at) < now - grace,
            )
            .order_by(col(RetentionSweep.id))
            .limit(BATCH)
        ).all()
        if sweep_id is not None
    ]


def recover_runs(engine: Engine | None = None, *, now: datetime | None = None) -> int:
    """Queue the runs to recover for the current application's workers; return how many."""
    config = current_app.config
    engine = engine or db.get_engine()
    grace = timedelta(
        minutes=float(
            config.get("WORKER_RECOVERY_GRACE_MINUTES", DEFAULTS["WORKER_RECOVERY_GRACE_MINUTES"])
        )
    )
    approved_too = setting_on(config, "EXECUTE_AFTER_APPROVAL")
    with db.open_session(engine) as db_session:
        found = runs_to_recover(
            db_session, now=now or db.utcnow(), grace=grace, approved_too=approved_too
        )
        sweeps = sweeps_to_recover(db_session, now=now or db.utcnow(), grace=grace)
    huey = queue_for(config, current_app.instance_path)
    for request_id in found:
        enqueue_job(huey, "run_request", request_id, None)
    for sweep_id in sweeps:
        enqueue_job(huey, "run_retention_sweep", sweep_id)
    if found or sweeps:
        log.info("queued %d run(s) and %d sweep(s) again", len(found), len(sweeps))
    return len(found) + len(sweeps)
