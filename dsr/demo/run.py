"""Run the demo: the app in demo mode on loopback, with a local SMTP sink as its mail server, a
worker (threads of the same process) that carries out its jobs from a queue file in the demo's
folder (runs of approved requests, emails), and the scheduler (deadline reminders, expiry of
unverified requests, retention sweeps...) on another thread, its jobs kept in the store.

Demo mode relaxes the public form's rate limits (`DEMO_PUBLIC_LIMIT_PER_ADDRESS`,
`DEMO_PUBLIC_LIMIT_PER_EMAIL`): one person tries every kind of request from one address.

The sink keeps every email under `instance/mail/` and the page /demo/mail shows them, so a
newcomer can click the verification link. The signing key is random, made on the first run and
kept in `instance/demo-secret` (owner-only) so that links stay valid across restarts.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from dsr import db, logs
from dsr.accounts.models import StaffRole
from dsr.accounts.service import create_staff, find_staff
from dsr.app import create_app
from dsr.config import current_settings
from dsr.demo.answer_templates import seed_answer_templates
from dsr.demo.mailbox import MAIL_FOLDER, SINK_HOST, MailSink
from dsr.scheduler.jobs import JOBS
from dsr.scheduler.process import scheduler_in_process
from dsr.scheduler.runs import SchedulerSettings
from dsr.worker.cli import worker_in_process

DEMO_PUBLIC_LIMIT_PER_ADDRESS = "200/hour"
DEMO_PUBLIC_LIMIT_PER_EMAIL = "100/hour"
"""The public form's limits in the demo (production: PUBLIC_LIMIT_PER_ADDRESS, 10/hour, and
PUBLIC_LIMIT_PER_EMAIL, 5/hour)."""

KEY_FILE_NAME = "demo-secret"
QUEUE_FILE_NAME = "demo-queue.sqlite3"
WORKER_THREADS = 2


def demo_secret_key(folder: Path) -> str:
    """Return the demo's signing key kept in `folder`, creating it (random, mode 0600) first."""
    path = folder / KEY_FILE_NAME
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        path.unlink()  # an empty file left by an interrupted first run: make a new key
        return demo_secret_key(folder)
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key + "\n")
    return key


DEMO_STAFF_EMAIL = "dpo@demo.example"
STAFF_FILE_NAME = "demo-staff-password"


def ensure_demo_staff(app: Flask, folder: Path) -> str:
    """Give the demo a DPO account (created once, its random password kept owner-only in
    `folder`) so a newcomer can log in to the dashboard, and answer templates to start from
    (when the store has none); return the password."""
    path = folder / STAFF_FILE_NAME
    if path.exists() and path.read_text(encoding="ascii").strip():
        password = path.read_text(encoding="ascii").strip()
    else:
        password = secrets.token_urlsafe(12)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(password + "\n")
    with db.transaction(db.get_engine(app)) as session:
        if find_staff(db_session=session, email=DEMO_STAFF_EMAIL) is None:
            create_staff(
                db_session=session,
                email=DEMO_STAFF_EMAIL,
                role=StaffRole.DPO,
                now=db.utcnow(),
                name="Demo DPO",
                password=password,
            )
        seed_answer_templates(session, db.utcnow())
    return password


def demo_config(
    *, database_url: str, folder: Path, smtp_port: int, public_url: str | None
) -> dict[str, Any]:
    """Return the configuration of the demo's application: demo mode, mail to the local sink,
    the worker's queue file and signing key in `folder`, and relaxed public form limits."""
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": demo_secret_key(folder),
        "DEMO_MODE": True,
        "DEMO_MAIL_FOLDER": str(folder / MAIL_FOLDER),
        "SMTP_HOST": SINK_HOST,
        "SMTP_PORT": smtp_port,
        "SMTP_TIMEOUT": 5,
        "MAIL_SENDER": "privacy-desk@localhost",
        "PUBLIC_URL": public_url,
        "QUEUE_URL": f"sqlite:///{(folder / QUEUE_FILE_NAME).as_posix()}",
        "PUBLIC_LIMIT_PER_ADDRESS": DEMO_PUBLIC_LIMIT_PER_ADDRESS,
        "PUBLIC_LIMIT_PER_EMAIL": DEMO_PUBLIC_LIMIT_PER_EMAIL,
    }


@contextmanager
def demo_scheduler(app: Flask) -> Iterator[Any]:
    """Run the scheduler's jobs beside the demo's desk and worker, on the app's store and
    settings; yield the scheduler (None when another one holds the lease)."""
    with app.app_context():
        settings = SchedulerSettings.from_settings(current_settings())
    with scheduler_in_process(db.get_engine(app), settings) as scheduler:
        yield scheduler


def _stop_on_interrupt_or_terminate() -> None:
    """Make Ctrl-C (SIGINT) and SIGTERM stop the demo cleanly, even when the shell that started
    it in the background set SIGINT to be ignored (Python then leaves it ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def served_url(host: str, port: int) -> str:
    """Return the http URL of a server on `host` (a name, an IPv4 or IPv6 address) and `port`;
    a server on every address (0.0.0.0, ::) is reached on loopback (else use --public-url)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104  (recognised, not bound)
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def serve_demo(
    *,
    database_url: str,
    folder: Path,
    host: str,
    port: int,
    smtp_port: int,
    echo: Callable[[str], None],
    public_url: str | None = None,
) -> None:
    """Serve the app in demo mode with the mail sink and a worker until interrupted (Ctrl-C), then
    stop them.

    Links in the emails start with `public_url`, by default the address served (`host`, and
    the port actually bound when `port` is 0).

    The mail and the signing key are kept in `folder` (the instance folder, normally); the store
    at `database_url` must be migrated already. Raise OSError when a port is taken.
    """
    _stop_on_interrupt_or_terminate()
    folder.mkdir(parents=True, exist_ok=True)
    mail_folder = folder / MAIL_FOLDER
    app = create_app(
        demo_config(
            database_url=database_url, folder=folder, smtp_port=smtp_port, public_url=public_url
        )
    )
    logs.redact_werkzeug_access_lines()  # the server's lines would show tokens in paths
    try:
        password = ensure_demo_staff(app, folder)
        with (
            MailSink(mail_folder, port=smtp_port),
            worker_in_process(app, threads=WORKER_THREADS),
            demo_scheduler(app) as scheduler,
        ):
            server = make_server(host, port, app, threaded=True)
            if isinstance(server, ThreadingMixIn):
                # Ctrl-C must not wait for a browser's idle keep-alive connection to end.
                server.block_on_close = False
            try:
                base = served_url(host, server.server_port)
                if not public_url:
                    app.config["PUBLIC_URL"] = base
                echo(f"Demo mail server on {SINK_HOST}:{smtp_port}, keeping mail in {mail_folder}")
                echo(f"Demo worker: {WORKER_THREADS} threads carrying out the desk's jobs")
                if scheduler is None:
                    echo("Demo scheduler: another scheduler holds the lease and runs the jobs")
                else:
                    echo(f"Demo scheduler: {len(JOBS)} jobs ({', '.join(JOBS)})")
                echo(
                    "Public form limits relaxed for the demo: "
                    f"{app.config['PUBLIC_LIMIT_PER_ADDRESS']} per address, "
                    f"{app.config['PUBLIC_LIMIT_PER_EMAIL']} per email"
                )
                echo(f"Learner form:  {base}/")
                echo(f"Demo mailbox:  {base}/demo/mail")
                echo(f"DPO dashboard: {base}/dashboard/ (log in as {DEMO_STAFF_EMAIL}, {password})")
                echo("Press Ctrl-C to stop.")
                server.serve_forever()  # returns on Ctrl-C: werkzeug catches KeyboardInterrupt
                echo("Stopping the demo.")
            finally:
                server.server_close()
    finally:
        db.get_engine(app).dispose()
