"""Work that must not hold a web request: deliveries of emails and status callbacks, and the
look-ups whose duration would tell an observer whether an address is known.

A view (or a service through `after_commit`) hands such a job to this process's background
threads and answers at once. What a job delivers is persisted first (the outbox, the callback
deliveries), claimed under a lease and retried by the scheduler's jobs, so a process that dies
with work in hand loses nothing and sends nothing twice: the background threads only make it
happen sooner. `DSR_DELIVER_AFTER_COMMIT=false` leaves deliveries to the scheduler alone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session as OrmSession

from dsr.config import DEFAULTS
from dsr.db import after_commit, get_engine, utcnow

log = logging.getLogger(__name__)


class Lane(StrEnum):
    """Each lane has its own thread, so that a callback endpoint that never answers does not hold
    up the emails, and the other way round."""

    MAIL = "mail"
    CALLBACKS = "callbacks"


Job = Callable[[], None]


class _Background:
    """One thread per lane and per process (started again in a forked child), shared by every
    application of the process; each job runs inside the app context it was submitted from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._executors: dict[Lane, ThreadPoolExecutor] = {}
        self._pid = 0
        self._running = 0
        self._queued: set[Hashable] = set()

    def submit(self, job: Job, *, app: Flask, lane: Lane, key: Hashable | None = None) -> None:
        """Run `job` soon on the thread of `lane`, in an app context of `app`.

        A job with a `key` that is already waiting to start is not queued twice: the one waiting
        will see everything committed before it starts (deliveries pick what is due then).
        """
        with self._lock:
            if key is not None:
                if key in self._queued:
                    return
                self._queued.add(key)
            self._running += 1
            executor = self._executor(lane)
        executor.submit(self._run, job, app, key)

    def _executor(self, lane: Lane) -> ThreadPoolExecutor:
        if self._pid != os.getpid():
            # A forked worker inherits the objects but not the threads: start its own.
            self._executors = {}
            self._pid = os.getpid()
        if lane not in self._executors:
            self._executors[lane] = ThreadPoolExecutor(1, thread_name_prefix=f"dsr-{lane}")
        return self._executors[lane]

    def _run(self, job: Job, app: Flask, key: Hashable | None) -> None:
        if key is not None:
            with self._lock:
                self._queued.discard(key)  # what commits from now on needs another run
        try:
            with app.app_context():
                job()
        except Exception as error:  # what it was to deliver stays queued for the scheduler
            log.error("a background job failed: %s", type(error).__name__)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False if `timeout` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)


_background = _Background()


def run_in_background(job: Job, *, lane: Lane = Lane.MAIL) -> None:
    """Run `job` on a background thread of this process, in the current application."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    _background.submit(job, app=app, lane=lane)


def wait_idle(timeout: float | None = None) -> bool:
    """Wait until the background threads have nothing left to do (for tests and shutdown)."""
    return _background.wait_idle(timeout)


def deliver_after_commit(db_session: OrmSession, lane: Lane = Lane.MAIL) -> None:
    """Deliver what is due on `lane` (the outbox's emails, or the status callbacks) once
    `db_session` commits, on a background thread: the web request that queued it waits for no
    mail server and no callback endpoint. Without an application (a script), or with
    DSR_DELIVER_AFTER_COMMIT=false, the scheduler delivers it."""
    if not has_app_context() or not current_app.config.get(
        "DELIVER_AFTER_COMMIT", DEFAULTS["DELIVER_AFTER_COMMIT"]
    ):
        return
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    job = _DELIVERIES[lane]
    after_commit(
        db_session, lambda: _background.submit(job, app=app, lane=lane, key=(lane, id(app)))
    )


def deliver_due_mail() -> None:
    """Send the outbox's due emails (each claimed under a lease: never sent twice)."""
    from dsr.outbox.service import deliver_due
    from dsr.outbox.smtp import SmtpSettings

    deliver_due(
        engine_or_session_factory=get_engine(),
        settings=SmtpSettings.from_config(current_app.config),
        now=utcnow(),
        limit=AFTER_COMMIT_LIMIT,
    )


def deliver_due_callbacks() -> None:
    """Send the due status callbacks (each claimed under a lease: never sent twice)."""
    from dsr.api.callback_addresses import allowed_networks_of
    from dsr.api.callbacks import deliver_due_callbacks as deliver

    config = current_app.config
    deliver(
        engine=get_engine(),
        secret_key=str(config["SECRET_KEY"]),
        now=utcnow(),
        limit=AFTER_COMMIT_LIMIT,
        timeout=float(
            config.get("API_CALLBACK_TIMEOUT_SECONDS", DEFAULTS["API_CALLBACK_TIMEOUT_SECONDS"])
        ),
        allowed_networks=allowed_networks_of(config),
    )


_DELIVERIES: dict[Lane, Job] = {Lane.MAIL: deliver_due_mail, Lane.CALLBACKS: deliver_due_callbacks}

AFTER_COMMIT_LIMIT = 20
"""Items one background run tries at most; the rest waits for the next run or the scheduler."""
