"""Fixtures of the worker tests: applications that queue their jobs on a queue of the test's own
(a SQLite file, or Redis) instead of running them at once, and real `dsr worker` processes that
carry them out with the same settings, given through the environment as in production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.config import SETTINGS_KEY
from dsr.execution.runs import RequestRun, RunProgress
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status
from dsr.worker.queue import queue_for
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, platform_url
from tests.processes import started

__all__ = ["platform_url"]

PROJECT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3
"""Short leases, so that a killed worker's run is free to take over soon."""
NOT_PASSED = frozenset({"TESTING", "SYSTEM_ENVIRONMENT"})
"""The settings of a test's application that its workers do not get: the rest of those the test
gave, they get through DSR_... variables as in production."""


@pytest.fixture
def queue_url(tmp_path: Path) -> str:
    """A SQLite queue file of the test's own."""
    return f"sqlite:///{(tmp_path / 'queue.sqlite3').as_posix()}"


@pytest.fixture
def app_config(platform_url: str, tmp_path: Path, queue_url: str) -> dict[str, Any]:
    """Staff pages over plain HTTP; approval hands the run to the workers of the test's queue."""
    return {
        "SESSION_COOKIE_SECURE": False,
        "DATA_MAP": str(DATA_MAP),
        "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: platform_url},
        "REPORTS_DIR": str(tmp_path / "reports"),
        "EXECUTE_AFTER_APPROVAL": True,
        "QUEUE_URL": queue_url,
        "WORKER_LEASE_SECONDS": LEASE_SECONDS,
    }


def worker_environment(app: Flask, **more: str) -> dict[str, str]:
    """The environment of a `dsr worker` with the settings of `app` (and no DSR_... variable of
    the test run's own)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DSR_")}
    settings = app.extensions[SETTINGS_KEY]  # as given: app.config holds some parsed
    for name in sorted(settings.given - NOT_PASSED):
        value = settings.values.get(name)
        if value is not None:
            environment[f"DSR_{name}"] = value if isinstance(value, str) else json.dumps(value)
    environment.update(app.config.get("SYSTEM_ENVIRONMENT") or {})
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(more)
    return environment


@contextmanager
def running_worker(
    app: Flask, output: Path, *, threads: int = 2, before: str = "", **environment: str
) -> Iterator[subprocess.Popen[str]]:
    """Run `dsr worker` with the settings of `app`, writing to `output`, until the block ends
    (SIGTERM, then whatever is left is killed). `before` is Python run first in the process (a
    test's module that changes how a run behaves)."""
    code = f"{before}from dsr.cli import main; main(['worker', '--workers', '{threads}'])"
    with (
        output.open("a") as handle,
        started(
            [sys.executable, "-c", code],
            cwd=PROJECT,
            env=worker_environment(app, **environment),
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        ) as child,
    ):
        yield child


def run_queued_jobs(app: Flask) -> int:
    """Carry out, in this process, the jobs waiting on `app`'s queue (what a worker does)."""
    huey = queue_for(app.config, app.instance_path)
    done = 0
    with app.app_context():
        while (task := huey.dequeue()) is not None:
            huey.execute(task)
            done += 1
    return done


def status_of(engine: Engine, request_id: int) -> Status:
    with db.open_session(engine) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        return request.status


def actions_of(engine: Engine, request_id: int) -> list[str]:
    with db.open_session(engine) as session:
        return list(
            session.exec(
                select(RequestEvent.action)
                .where(RequestEvent.request_id == request_id)
                .order_by(col(RequestEvent.sequence))
            ).all()
        )


def progress_of(engine: Engine, request_id: int) -> dict[str, tuple[str, int | None]]:
    with db.open_session(engine) as session:
        rows = session.exec(select(RunProgress).where(RunProgress.request_id == request_id))
        return {row.system: (row.state.value, row.rows) for row in rows}


def run_of(engine: Engine, request_id: int) -> RequestRun | None:
    with db.open_session(engine) as session:
        return session.get(RequestRun, request_id)
