"""The scheduler process: runs missed during downtime are caught up once (coalesced), and only
one scheduler acts at a time, the second waiting for the lease (two real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.scheduler import process
from dsr.scheduler.jobs import JOBS, SchedulerSettings
from dsr.scheduler.models import JOB_STORE_TABLE, JobRun, scheduler_jobs
from dsr.scheduler.process import Lease, add_missing_jobs, build_scheduler, stored_job_ids

ON_ENGINES = pytest.mark.databases("sqlite", "postgresql")
PROJECT = Path(__file__).resolve().parents[2]


def _runs(store: Engine, job: str) -> list[JobRun]:
    with db.open_session(store) as session:
        return list(session.exec(select(JobRun).where(JobRun.job == job)).all())


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


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
        _wait_for(lambda: any(run.finished_at for run in _runs(store, "outbox")))
        time.sleep(1.0)
        (run,) = _runs(store, "outbox")
        assert run.errors == 0
        next_run = restarted.get_job("outbox").next_run_time
        assert datetime.now(UTC) < next_run <= datetime.now(UTC) + timedelta(minutes=1)
        assert all(_runs(store, job) == [] for job in JOBS if job != "outbox")
    finally:
        restarted.shutdown()


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


def _start(url: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen[str], Path]:
    output = tmp_path / f"{name}.log"
    environment = {
        **os.environ,
        "DSR_DATABASE_URL": url,
        "DSR_SECRET_KEY": "a secret for the tests only",
        "DSR_SMTP_HOST": "127.0.0.1",
        "DSR_SMTP_PORT": "9",
        "PYTHONUNBUFFERED": "1",
    }
    code = (
        "from dsr.scheduler.cli import scheduler_group; scheduler_group(['--lease-seconds', '4'])"
    )
    handle = output.open("w")
    child = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env=environment,
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
    )
    handle.close()
    return child, output


@ON_ENGINES
def test_a_second_scheduler_waits_then_takes_over(
    engine_url: str, store: Engine, tmp_path: Path
) -> None:
    first, first_log = _start(engine_url, tmp_path, "first")
    second: subprocess.Popen[str] | None = None
    try:
        _wait_for(lambda: "holds the lease; running" in first_log.read_text())
        second, second_log = _start(engine_url, tmp_path, "second")
        _wait_for(lambda: "another scheduler holds the lease until" in second_log.read_text())
        assert "waiting" in second_log.read_text()
        assert "holds the lease; running" not in second_log.read_text()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        assert "lease released" in first_log.read_text()
        _wait_for(lambda: "holds the lease; running" in second_log.read_text())
        assert second.poll() is None
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
                child.wait(timeout=20)
