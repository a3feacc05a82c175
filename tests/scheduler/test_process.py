"""The scheduler process: runs missed during downtime are caught up once (coalesced), and only
one scheduler acts at a time, the second waiting for the lease (two real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.scheduler import process
from dsr.scheduler.jobs import JOBS
from dsr.scheduler.models import JOB_STORE_TABLE, JobRun, scheduler_jobs
from dsr.scheduler.process import (
    Lease,
    add_missing_jobs,
    build_scheduler,
    run_process,
    stored_job_ids,
)
from dsr.scheduler.runs import SchedulerSettings
from tests.processes import STOP_GRACE_SECONDS, started
from tests.waiting import wait_until

ON_ENGINES = pytest.mark.databases("sqlite", "postgresql")
PROJECT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 30
"""The scheduler processes' lease, renewed every 10 s: long enough that a loaded machine never
lets it run out by accident (the second scheduler would then take over too early)."""


def _runs(store: Engine, job: str) -> list[JobRun]:
    with db.open_session(store) as session:
        return list(session.exec(select(JobRun).where(JobRun.job == job)).all())


def _next_outbox_run(scheduler: BackgroundScheduler) -> datetime:
    next_run: datetime = scheduler.get_job("outbox").next_run_time
    return next_run


@ON_ENGINES
def test_runs_missed_during_downtime_are_caught_up_once(
    store: Engine, settings: SchedulerSettings
) -> None:
    """The every-minute outbox job's next run is three hours in the past, as after a downtime:
    on start it runs once, not 180 times, and its next run moves into the future."""
    downtime_start = datetime.now(UTC) - timedelta(hours=3)
    scheduler = build_scheduler(store, BackgroundScheduler)
    scheduler.start(paused=True)
    assert add_missing_jobs(scheduler, store) == list(JOBS)
    # The scheduler stopped three hours ago, its next outbox run then due: it is still stored.
    scheduler.shutdown()
    job_store = SQLAlchemyJobStore(engine=store, tablename=JOB_STORE_TABLE)
    job_store.start(scheduler, "default")
    job = job_store.lookup_job("outbox")
    job.next_run_time = downtime_start
    job_store.update_job(job)
    assert stored_job_ids(store) == set(JOBS)
    with db.open_session(store) as session:
        stored = session.execute(
            select(scheduler_jobs.c.next_run_time).where(scheduler_jobs.c.id == "outbox")
        ).scalar_one()
    assert stored == pytest.approx(downtime_start.timestamp())
    process.configure(store, settings, lease=None)
    restarted = build_scheduler(store, BackgroundScheduler)
    assert add_missing_jobs(restarted, store) == []  # the stored jobs keep their missed runs
    restarted.start()
    try:
        wait_until(lambda: any(run.finished_at for run in _runs(store, "outbox")), "an outbox run")
        # Once the next run is in the future, every run owed for the downtime was handed to the
        # executor; shutting down waits for all of them to finish before they are counted.
        wait_until(
            lambda: _next_outbox_run(restarted) > datetime.now(UTC), "the next run rescheduled"
        )
        next_run = _next_outbox_run(restarted)
        assert next_run <= datetime.now(UTC) + timedelta(minutes=1)
    finally:
        restarted.shutdown(wait=True)
    runs = _runs(store, "outbox")
    assert len(runs) == 1, f"{len(runs)} outbox runs for the downtime, not one"
    assert runs[0].errors == 0
    assert all(_runs(store, job) == [] for job in JOBS if job != "outbox")


@ON_ENGINES
def test_the_lease_goes_to_one_owner_until_released_or_expired(store: Engine) -> None:
    first = Lease(engine=store, owner="first", duration=timedelta(seconds=30))
    second = Lease(engine=store, owner="second", duration=timedelta(seconds=30))
    now = datetime.now(UTC)
    assert first.acquire(now) is None
    held_until = second.acquire(now)
    assert held_until is not None and held_until > now
    assert first.acquire(now + timedelta(seconds=10)) is None  # renewed
    assert first.holds() and not second.holds()
    assert second.acquire(now + timedelta(seconds=41)) is None  # expired: taken over
    assert first.acquire(now + timedelta(seconds=42)) is not None
    second.release()
    assert first.acquire() is None


@contextmanager
def _scheduler(url: str, output: Path) -> Iterator[subprocess.Popen[str]]:
    """`dsr scheduler` in a process of its own writing to `output`; ended when the block ends."""
    environment = {
        **os.environ,
        "DSR_DATABASE_URL": url,
        "DSR_SECRET_KEY": "a secret for the tests only",
        "DSR_SMTP_HOST": "127.0.0.1",
        "DSR_SMTP_PORT": "9",
        "PYTHONUNBUFFERED": "1",
    }
    code = (
        "from dsr.scheduler.cli import scheduler_group; "
        f"scheduler_group(['--lease-seconds', '{LEASE_SECONDS}'])"
    )
    with (
        output.open("w") as handle,
        started(
            [sys.executable, "-c", code],
            cwd=PROJECT,
            env=environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        ) as child,
    ):
        yield child


def _wait_for_line(output: Path, line: str) -> None:
    wait_until(lambda: line in output.read_text(), f"{line!r} in {output.name}")


@ON_ENGINES
def test_a_second_scheduler_waits_then_takes_over(
    engine_url: str, store: Engine, tmp_path: Path
) -> None:
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with _scheduler(engine_url, first_log) as first:
        _wait_for_line(first_log, "holds the lease; running")
        with _scheduler(engine_url, second_log) as second:
            _wait_for_line(second_log, "another scheduler holds the lease until")
            assert "waiting" in second_log.read_text()
            assert "holds the lease; running" not in second_log.read_text()
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=STOP_GRACE_SECONDS) == 0, first_log.read_text()
            assert "lease released" in first_log.read_text()
            _wait_for_line(second_log, "holds the lease; running")
            assert second.poll() is None


@pytest.mark.databases("sqlite")
def test_a_stop_while_the_scheduler_starts_still_releases_the_lease(
    store: Engine, settings: SchedulerSettings
) -> None:
    """SIGTERM right after the lease is taken, before the jobs start (a slow start on a busy
    machine): the scheduler stops cleanly and gives the lease back at once."""
    said: list[str] = []

    def say(text: str) -> None:
        said.append(text)
        if "holds the lease" in text:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by run_process: a KeyboardInterrupt

    previous = signal.getsignal(signal.SIGTERM)
    try:
        run_process(store, settings, say=say, lease_seconds=LEASE_SECONDS, owner="first")
    except KeyboardInterrupt:
        pytest.fail("the stop escaped the scheduler while it was starting: lease kept")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert said[-1] == "scheduler stopped; lease released"
    assert Lease(engine=store, owner="second").acquire() is None  # free at once
