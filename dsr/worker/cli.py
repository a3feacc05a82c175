"""`dsr worker`: carry out the desk's jobs (runs of requests, emails, status callbacks) until
stopped. Start as many as the work needs, on any machine that reaches the store and the queue
(DSR_QUEUE_URL); SIGTERM or Ctrl-C stops one cleanly. A worker runs at a lower CPU priority than
the web processes (DSR_WORKER_NICE).

Only click is imported here: the rest comes when the command runs, so that `dsr --help` is fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask


@click.command("worker")
@click.option(
    "--workers",
    "threads",
    type=click.IntRange(min=1),
    default=None,
    help="Jobs carried out at once by this process (env DSR_WORKER_THREADS; default 4), so "
    "that a callback endpoint that never answers does not hold up the emails or the runs.",
)
def worker_command(threads: int | None) -> None:
    """Carry out the desk's jobs from the queue (DSR_QUEUE_URL) until stopped."""
    from dsr import config, db, logs
    from dsr.commands import command_settings

    settings = command_settings()
    logs.configure(settings.log_format)
    try:
        lower_priority(config.worker_nice(settings.values))
        app = _worker_app()
    except (config.InsecureConfiguration, db.DatabaseNotUpToDate, ValueError) as error:
        raise click.ClickException(str(error)) from None
    count = threads or int(app.config.get("WORKER_THREADS") or 4)
    run_worker(app, threads=count, say=click.echo)


def lower_priority(nice: int) -> None:
    """Give this process a CPU priority `nice` steps below the one it started with, before it
    starts any thread (on Linux a thread's priority is its own, and a new thread takes its
    creator's): where the workers share the machine with the web processes, a heavy job (the
    access report of a person with a million rows takes a core for seconds) waits for the pages
    and the form instead of slowing them. It never raises a priority: that needs privileges."""
    import os

    if nice:
        os.nice(nice)


def _worker_app() -> Flask:
    from dsr.app import create_app
    from dsr.worker.queue import IMMEDIATE, queue_address

    app = create_app()
    if queue_address(app.config, app.instance_path).kind == IMMEDIATE:
        raise click.ClickException(
            "DSR_QUEUE_URL is immediate: jobs run where they are queued and a worker has nothing "
            "to do; unset it or set it to sqlite:///... or redis://..."
        )
    return app


def run_worker(app: Flask, *, threads: int, say: Callable[[str], None]) -> None:
    """Recover lost runs, then run Huey's consumer with `threads` threads until a signal."""
    from dsr.worker.queue import queue_for
    from dsr.worker.recovery import recover_runs
    from dsr.worker.tasks import use_worker_app

    use_worker_app(app)
    huey = queue_for(app.config, app.instance_path)
    with app.app_context():
        recover_runs()
    log_jobs_quietly()
    say(f"Worker started with {threads} thread(s); Ctrl-C or SIGTERM stops it.")
    consumer = huey.create_consumer(workers=threads, worker_type="thread", periodic=True)
    consumer.run()
    say("Worker stopped.")


def log_jobs_quietly() -> None:
    """Leave out Huey's two INFO lines per job ("Executing ...", "... executed in"): a busy
    desk's worker spent more CPU writing them than sending the email they announce (issue 17),
    and the desk logs what its jobs do itself (each email sent, a job that failed). Huey's
    warnings and errors stay, and so do its consumer's lines (started, stopping)."""
    import logging

    jobs, consumer = logging.getLogger("huey"), logging.getLogger("huey.consumer")
    consumer.setLevel(consumer.getEffectiveLevel())
    jobs.setLevel(max(jobs.getEffectiveLevel(), logging.WARNING))


SHUTDOWN_SECONDS = 30
"""How long an in-process worker's running jobs get to finish when it stops (then they are left
to the recovery: their leases run out)."""


@contextmanager
def worker_in_process(app: Flask, *, threads: int) -> Iterator[None]:
    """Carry out `app`'s jobs on `threads` threads of this process while the block runs (the
    demo: one command, no second process to start). Huey's consumer takes the process's signal
    handlers when it starts: they are given back at once, so the caller's own still apply."""
    import signal

    from dsr.worker.queue import queue_for
    from dsr.worker.recovery import recover_runs
    from dsr.worker.tasks import use_worker_app

    use_worker_app(app)
    huey = queue_for(app.config, app.instance_path)
    with app.app_context():
        recover_runs()
    log_jobs_quietly()
    consumer = huey.create_consumer(
        workers=threads, worker_type="thread", periodic=True, shutdown_timeout=SHUTDOWN_SECONDS
    )
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    handlers = {signum: signal.getsignal(signum) for signum in signals}
    consumer.start()
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    try:
        yield
    finally:
        consumer.stop(graceful=True)
