"""The jobs the workers carry out. Each runs in an application context: the one of the thread that
queued it in immediate mode, else the worker's own application (`create_app()` from the
environment, like the web's, built once per process).

A job's failure is logged by its class only (a message may hold personal data) and never
retried by the queue: what it was to do stays in the store (the outbox, the callback deliveries,
a request approved or processing) for the scheduler's retries and `recovery`.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context

if TYPE_CHECKING:  # imported when a job runs: `dsr --help` stays fast
    from dsr.outbox.smtp import SmtpConnection, SmtpSettings

log = logging.getLogger(__name__)

AFTER_COMMIT_LIMIT = 20
"""Items one delivery job tries at most; the rest waits for the next job or the scheduler."""
RECOVERY_SCHEDULE = {"minute": "*"}
"""When the workers look for runs to take up again (a Huey crontab: every minute)."""

_app: Flask | None = None
_app_lock = threading.Lock()


class DeliveryGate:
    """At most one delivery job of a kind (emails, callbacks: dsr.worker.enqueue.Lane) at a time
    in a process.

    A callback endpoint that never answers holds the job delivering to it until its timeout;
    without a gate, every thread of the worker would end up waiting on it (one wake-up is queued
    per status change) and no email or run would go out meanwhile. A job that finds its gate
    busy leaves the work to the one delivering, which goes round again before it stops: it
    delivers what is due, while some was left (a full batch) or another job asked meanwhile.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False
        self._asked = False

    def deliver(
        self,
        batch: Callable[[], int],
        *,
        around: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        """Run `batch` (which returns how many items it tried) until nothing is left, inside
        `around()` (the job's application context), unless another thread of this process is
        doing it already: then return at once, without entering `around()` (a busy desk's
        jobs mostly find the gate taken, and need nothing else)."""
        with self._lock:
            if self._busy:
                self._asked = True
                return
            self._busy = True
        freed = False
        try:
            with around():
                while True:
                    with self._lock:
                        self._asked = False
                    tried = batch()
                    with self._lock:
                        if tried < AFTER_COMMIT_LIMIT and not self._asked:
                            self._busy, freed = False, True
                            return
        finally:
            if not freed:  # a batch failed (`around()` may have swallowed its error)
                with self._lock:
                    self._busy = False


MAIL_GATE = DeliveryGate()
CALLBACK_GATE = DeliveryGate()


def use_worker_app(app: Flask) -> None:
    """Make `app` the application this process's jobs run in (`dsr worker`, the demo)."""
    global _app
    with _app_lock:
        _app = app


def worker_app() -> Flask:
    """Return this process's worker application, created from the environment on first use."""
    global _app
    with _app_lock:
        if _app is None:
            from dsr.app import create_app

            _app = create_app()
        return _app


@contextmanager
def _job_context(name: str) -> Iterator[None]:
    context = nullcontext() if has_app_context() else worker_app().app_context()
    with context:
        try:
            yield
        except Exception as error:  # the store keeps what was to do: see the module's doc
            log.error("the job %s failed: %s", name, type(error).__name__)


def run_request(request_id: int, staff_label: str | None = None) -> None:
    """Carry out the request `request_id` (or take over its run whose lease ran out), then have
    the emails it queued (its answer, a certificate) delivered."""
    from dsr import db
    from dsr.config import setting_on
    from dsr.execution.runner import RequestNotRunnable, app_settings
    from dsr.execution.runner import run_request as run
    from dsr.worker.enqueue import enqueue_now

    with _job_context("run_request"):
        try:
            run(
                engine=db.get_engine(),
                request_id=request_id,
                settings=app_settings(current_app.config, current_app.instance_path),
                now=db.utcnow(),
                staff_label=staff_label,
            )
        except RequestNotRunnable as error:  # run already, by another worker, or cancelled
            log.info("request %s was not run: %s", request_id, type(error).__name__)
            return
        if setting_on(current_app.config, "DELIVER_AFTER_COMMIT"):
            enqueue_now("deliver_mail")


def deliver_mail() -> None:
    """Send the outbox's due emails (each claimed under a lease: never sent twice), one job at a
    time per process (`DeliveryGate`)."""
    MAIL_GATE.deliver(_mail_batch, around=lambda: _job_context("deliver_mail"))


def _mail_batch() -> int:
    from dsr.db import get_engine, utcnow
    from dsr.outbox.service import deliver_due
    from dsr.outbox.smtp import SmtpSettings

    settings = SmtpSettings.from_config(current_app.config)
    return deliver_due(
        engine_or_session_factory=get_engine(),
        settings=settings,
        now=utcnow(),
        limit=AFTER_COMMIT_LIMIT,
        smtp=_mail_connection(settings),
    ).attempted


_mail_smtp: list[SmtpConnection] = []
"""The SMTP connection of this process's email deliveries, with its settings (at most one)."""


def _mail_connection(settings: SmtpSettings) -> SmtpConnection:
    """Return the SMTP connection this process's email deliveries share, one batch at a time
    (only the thread holding MAIL_GATE delivers), for as long as the settings stay the same:
    connecting, greeting and QUIT once per process rather than once per job of a busy desk
    (issue 17). It connects at its first message; one the server closed while idle is noticed
    before a message is sent on it (NOOP) and opened again."""
    from dsr.outbox.smtp import SmtpConnection

    if _mail_smtp and _mail_smtp[0].settings == settings:
        return _mail_smtp[0]
    if not _mail_smtp:
        atexit.register(drop_mail_connection)
    for former in _mail_smtp:
        former.close()
    _mail_smtp[:] = [SmtpConnection(settings)]
    return _mail_smtp[0]


def drop_mail_connection() -> None:
    """Close the socket of the process's SMTP connection (at exit: no socket left to the GC)."""
    for connection in _mail_smtp:
        connection.drop()


def deliver_callbacks() -> None:
    """Send the due status callbacks (each claimed under a lease: never sent twice), one job at a
    time per process (`DeliveryGate`): the other threads stay free for emails and runs."""
    from dsr.api.callback_addresses import allowed_networks_of
    from dsr.api.callbacks import deliver_due_callbacks
    from dsr.config import DEFAULTS
    from dsr.db import get_engine, utcnow

    def batch() -> int:
        config = current_app.config
        report = deliver_due_callbacks(
            engine=get_engine(),
            secret_key=str(config["SECRET_KEY"]),
            now=utcnow(),
            limit=AFTER_COMMIT_LIMIT,
            timeout=float(
                config.get("API_CALLBACK_TIMEOUT_SECONDS", DEFAULTS["API_CALLBACK_TIMEOUT_SECONDS"])
            ),
            allowed_networks=allowed_networks_of(config),
        )
        return report.sent + report.retried + report.failed

    CALLBACK_GATE.deliver(batch, around=lambda: _job_context("deliver_callbacks"))


def _opened(job: str, sealed: str) -> str | None:
    """The personal argument of `job`, sealed by the web side (dsr.worker.enqueue.enqueue_sealed);
    None, logged, when it does not open (DSR_SECRET_KEY differs between the desk and the worker)."""
    from dsr.worker.enqueue import argument_box

    opened = argument_box(current_app.config).open(sealed)
    if opened is None:
        log.error("the job %s could not open its argument: is DSR_SECRET_KEY the desk's?", job)
    return opened


def resend_verification(sealed_email: str) -> None:
    """Look the address up and send its new verification links (off the web request, so that
    the answer takes the same time whether or not a request waits for that address)."""
    from dsr.requests.views import resend_verification_links

    with _job_context("resend_verification"):
        if (email := _opened("resend_verification", sealed_email)) is not None:
            resend_verification_links(email)


def send_password_reset(sealed_email: str, language: str) -> None:
    """Look the address up and queue its password reset link (off the web request, so that the
    answer takes the same time whether or not the address has an account)."""
    from dsr.accounts.views import send_reset_link
    from dsr.languages import Language

    with _job_context("send_password_reset"):
        if (email := _opened("send_password_reset", sealed_email)) is not None:
            send_reset_link(email, Language(language))


def run_retention_sweep(sweep_id: int) -> None:
    """Run the retention sweep `sweep_id` a person approved on the dashboard (once: the first
    job claims it), then have the emails it queued (warnings) delivered."""
    from dsr import db
    from dsr.config import setting_on
    from dsr.execution.runner import app_settings
    from dsr.retention.approval import carry_out
    from dsr.worker.enqueue import enqueue_now

    with _job_context("run_retention_sweep"):
        carry_out(
            engine=db.get_engine(),
            settings=app_settings(current_app.config, current_app.instance_path),
            sweep_id=sweep_id,
            now=db.utcnow(),
        )
        if setting_on(current_app.config, "DELIVER_AFTER_COMMIT"):
            enqueue_now("deliver_mail")


def recover() -> None:
    """Queue again the runs a worker that died left behind (see dsr.worker.recovery)."""
    from dsr.worker.recovery import recover_runs

    with _job_context("recover"):
        recover_runs()


JOBS: dict[str, Callable[..., None]] = {
    "run_request": run_request,
    "deliver_mail": deliver_mail,
    "deliver_callbacks": deliver_callbacks,
    "resend_verification": resend_verification,
    "send_password_reset": send_password_reset,
    "run_retention_sweep": run_retention_sweep,
    "recover": recover,
}
"""The jobs by the name the web side queues them with."""


def register_tasks(huey: Any) -> None:
    """Register the desk's jobs on `huey` (as `huey.desk_jobs`), and the periodic recovery."""
    from huey import crontab

    huey.desk_jobs = {
        name: huey.task(name=f"dsr.{name}")(function) for name, function in JOBS.items()
    }
    huey.periodic_task(crontab(**RECOVERY_SCHEDULE), name="dsr.recover_periodically")(recover)
