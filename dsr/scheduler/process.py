"""The scheduler process: the lease that lets only one scheduler act, and the APScheduler set up
with its job store in the tool's database.

The lease is one row (`dsr_scheduler_lease`): its owner and when it expires. A scheduler takes it
when it is free or expired and renews it every `renew_every`; another one waits, saying until
when the lease is held, and takes over once it is released or runs out. Plain UPDATE/INSERT
statements: the same on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.jobstores.memory import MemoryJobStore  # type: ignore[import-untyped]
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.blocking import BlockingScheduler  # type: ignore[import-untyped]
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from dsr import db
from dsr.scheduler.jobs import JOBS, SCHEDULES, run_job
from dsr.scheduler.models import JOB_STORE_TABLE, SchedulerLease, scheduler_jobs
from dsr.scheduler.runs import SchedulerSettings

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
DEFAULT_LEASE_SECONDS = 60
MISFIRE_GRACE_SECONDS: int | None = None
"""A run missed during downtime is still made however late (once: runs are coalesced)."""


def new_owner_id() -> str:
    """Name this process in the lease: host, process id and a random part."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class Lease:
    """The right to run the jobs, held by one owner until `expires_at` unless renewed."""

    engine: Engine
    owner: str
    duration: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS)

    def acquire(self, now: datetime | None = None) -> datetime | None:
        """Take or renew the lease; return None when this owner now holds it, else when the
        other holder's lease expires."""
        now = now or db.utcnow()
        leases = db.table_of(SchedulerLease)
        expires = now + self.duration
        with db.transaction(self.engine) as session:
            taken = session.execute(
                update(leases)
                .where(leases.c.name == LEASE_NAME)
                .where((leases.c.owner == self.owner) | (leases.c.expires_at <= now))
                .values(owner=self.owner, expires_at=expires)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return None
            holder = session.execute(
                select(leases.c.owner, leases.c.expires_at).where(leases.c.name == LEASE_NAME)
            ).one_or_none()
            if holder is not None:
                until: datetime = holder.expires_at
                return until
            try:
                with session.begin_nested():
                    session.execute(
                        insert(leases).values(name=LEASE_NAME, owner=self.owner, expires_at=expires)
                    )
            except IntegrityError:  # another scheduler inserted it first
                return expires
        return None

    def release(self) -> None:
        """Give the lease up at once, so that a waiting scheduler takes over without delay."""
        leases = db.table_of(SchedulerLease)
        with db.transaction(self.engine) as session:
            session.execute(
                update(leases)
                .where(leases.c.name == LEASE_NAME, leases.c.owner == self.owner)
                .values(expires_at=db.utcnow() - timedelta(seconds=1))
            )

    def holds(self, now: datetime | None = None) -> bool:
        """Tell whether this owner holds an unexpired lease."""
        now = now or db.utcnow()
        leases = db.table_of(SchedulerLease)
        with db.open_session(self.engine) as session:
            row = session.execute(
                select(leases.c.expires_at).where(
                    leases.c.name == LEASE_NAME, leases.c.owner == self.owner
                )
            ).one_or_none()
        return row is not None and bool(row.expires_at > now)


@dataclass(slots=True)
class _Context:
    engine: Engine
    settings: SchedulerSettings
    lease: Lease | None


_context: _Context | None = None


def configure(engine: Engine, settings: SchedulerSettings, lease: Lease | None) -> None:
    """Give the scheduled jobs of this process their engine, settings and lease."""
    global _context
    _context = _Context(engine=engine, settings=settings, lease=lease)


def run_scheduled_job(name: str) -> None:
    """What the job store calls (by reference, so that jobs survive restarts): run `name` now,
    unless this process has lost the lease."""
    if _context is None:
        raise RuntimeError("the scheduler process is not configured")
    if _context.lease is not None and not _context.lease.holds():
        log.warning("job %s skipped: this scheduler no longer holds the lease", name)
        return
    run_job(name, engine=_context.engine, settings=_context.settings, now=db.utcnow())


def build_scheduler(
    engine: Engine, scheduler_class: type[BaseScheduler] = BlockingScheduler
) -> Any:
    """Return a scheduler whose jobs live in the store, coalescing missed runs into one."""
    return scheduler_class(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename=JOB_STORE_TABLE),
            "process": MemoryJobStore(),
        },
        # The jobs run one at a time; the lease is renewed beside them, never behind a long job.
        executors={"default": ThreadPoolExecutor(max_workers=1), "lease": ThreadPoolExecutor(1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
        timezone="UTC",
    )


def stored_job_ids(engine: Engine) -> set[str]:
    """Return the ids of the jobs already in the job store."""
    with engine.connect() as connection:
        return set(connection.execute(select(scheduler_jobs.c.id)).scalars())


def add_missing_jobs(scheduler: Any, engine: Engine) -> list[str]:
    """Add the jobs the store does not hold yet; keep the others as they are, so that their
    next run (possibly in the past, after downtime) is kept and caught up. Return those added."""
    known = stored_job_ids(engine)
    added = []
    for name in JOBS:
        if name in known:
            continue
        scheduler.add_job(
            "dsr.scheduler.process:run_scheduled_job",
            id=name,
            name=name,
            args=[name],
            jobstore="default",
            replace_existing=True,
            **SCHEDULES[name],
        )
        added.append(name)
    return added


def run_process(
    engine: Engine,
    settings: SchedulerSettings,
    *,
    say: Callable[[str], None],
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    owner: str | None = None,
) -> None:
    """Wait for the lease, then run the jobs until stopped (SIGTERM, SIGINT) or the lease is
    lost; release the lease on the way out."""
    lease = Lease(
        engine=engine, owner=owner or new_owner_id(), duration=timedelta(seconds=lease_seconds)
    )
    renew_every = max(1.0, lease_seconds / 3)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    waiting_said: datetime | None = None
    try:
        while True:
            held_until = lease.acquire()
            if held_until is None:
                break
            if held_until != waiting_said:
                shown = f"{held_until:%Y-%m-%d %H:%M:%S} UTC"
                say(f"another scheduler holds the lease until {shown}; waiting")
                waiting_said = held_until
            time.sleep(renew_every)
    except KeyboardInterrupt:
        return
    # From here on the lease is held: a stop at any point, even before the jobs start, gives it
    # back, so that a waiting scheduler takes over at once rather than when it expires.
    scheduler: Any = None
    try:
        say(f"scheduler {lease.owner} holds the lease; running {len(JOBS)} jobs")
        configure(engine, settings, lease)
        scheduler = build_scheduler(engine)

        def renew() -> None:
            if lease.acquire() is not None:
                log.error("the scheduler lost its lease: stopping")
                scheduler.shutdown(wait=False)

        scheduler.add_job(
            renew, "interval", seconds=renew_every, id="lease", jobstore="process", executor="lease"
        )
        add_missing_jobs(scheduler, engine)
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        lease.release()
        say("scheduler stopped; lease released")


@contextmanager
def scheduler_in_process(
    engine: Engine,
    settings: SchedulerSettings,
    *,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    owner: str | None = None,
) -> Iterator[Any]:
    """Run the scheduled jobs on a thread of this process while the block runs (the demo: one
    command beside the desk and the worker), holding the lease as `dsr scheduler` does; yield
    the running scheduler, or None when another scheduler holds the lease (it does the work).
    The lease is released on the way out."""
    lease = Lease(
        engine=engine, owner=owner or new_owner_id(), duration=timedelta(seconds=lease_seconds)
    )
    if lease.acquire() is not None:
        yield None
        return
    scheduler: Any = None
    try:
        configure(engine, settings, lease)
        scheduler = build_scheduler(engine, BackgroundScheduler)

        def renew() -> None:
            if lease.acquire() is not None:
                log.error("the scheduler lost its lease: stopping")
                scheduler.shutdown(wait=False)

        scheduler.add_job(
            renew,
            "interval",
            seconds=max(1.0, lease_seconds / 3),
            id="lease",
            jobstore="process",
            executor="lease",
        )
        add_missing_jobs(scheduler, engine)
        scheduler.start()
        yield scheduler
    finally:
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        lease.release()
