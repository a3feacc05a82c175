"""What the web side hands to the workers: a job is queued only once its transaction commits
(nothing for one that rolls back), deliveries can be left to the scheduler alone, a mail server
or a callback endpoint that never answers holds no web request (the delivery is a job), and the
pages that take an email address do the same work whatever the address, the look-up being a
job. In immediate mode (the suite's default; this folder's applications queue on a file) a job
runs in the thread that queued it, after the commit. (Production refuses the immediate mode:
tests/production/test_settings.py.)"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.languages import Language
from dsr.outbox import smtp
from dsr.outbox.emails import RenderedEmail
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import enqueue
from dsr.worker import tasks
from dsr.worker.enqueue import deliver_after_commit
from dsr.worker.queue import QueueAddress, QueueSettingError, queue_address, queue_for
from dsr.worker.tasks import AFTER_COMMIT_LIMIT
from tests.accounts.helpers import make_staff
from tests.conftest import MakeApp
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.web.conftest import file_request
from tests.worker.conftest import run_queued_jobs


def outbox(app: Flask) -> list[OutboxMessage]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(OutboxMessage)).all())


def queue_one(session: db.Session, subject: str) -> None:
    enqueue(
        db_session=session,
        to="zoe.lefevre@example.org",
        email=RenderedEmail(subject=subject, text="Text", html=None),
        language=Language.EN,
        dedup_key=None,
        now=db.utcnow(),
    )


# --- the queue's address ------------------------------------------------------------------------


def test_the_queue_is_a_file_of_the_instance_unless_told_otherwise() -> None:
    assert queue_address({}, "/srv/desk") == QueueAddress(
        "sqlite", "/srv/desk/queue.sqlite3", "dsr"
    )
    assert queue_address({"QUEUE_URL": "sqlite:////var/q.db"}, "/x").target == "/var/q.db"
    assert queue_address({"QUEUE_URL": "redis://h:6379/2", "QUEUE_NAME": "n"}, "/x") == (
        QueueAddress("redis", "redis://h:6379/2", "n")
    )
    assert queue_address({"QUEUE_URL": "immediate"}, "/x").kind == "immediate"
    with pytest.raises(QueueSettingError, match="DSR_QUEUE_URL"):
        queue_address({"QUEUE_URL": "amqp://rabbit"}, "/x")


# --- after the commit ---------------------------------------------------------------------------


def test_an_email_is_delivered_once_its_transaction_commits(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app(QUEUE_URL="immediate")  # the job runs in this thread, after the commit
    with app.app_context(), db.open_session(db.get_engine()) as session:
        queue_one(session, "Right away")
        deliver_after_commit(session)
        assert smtp_server.transactions == 0  # nothing before the commit
        session.commit()

    assert [mail.message["Subject"] for mail in smtp_server.wait_for(1)] == ["Right away"]
    [message] = outbox(app)
    assert message.status is OutboxStatus.SENT


def test_the_jobs_of_a_process_deliver_on_one_smtp_connection(
    make_app: MakeApp, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections: list[object] = []
    connect = smtp._connect

    def counted(*args: Any) -> Any:
        connections.append(args)
        return connect(*args)

    monkeypatch.setattr(smtp, "_connect", counted)
    app = make_app(QUEUE_URL="immediate")
    count = AFTER_COMMIT_LIMIT + 3  # a full batch, then another
    for job in range(2):
        with app.app_context(), db.open_session(db.get_engine()) as session:
            for number in range(count):
                queue_one(session, f"Message {job}.{number}")
            deliver_after_commit(session)
            session.commit()

    assert len(smtp_server.wait_for(2 * count)) == 2 * count
    assert len(connections) == 1
    [kept] = tasks._mail_smtp
    assert kept._client is not None
    tasks.drop_mail_connection()  # what the process does at exit
    assert kept._client is None


def test_nothing_is_queued_when_the_transaction_rolls_back(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app()
    with app.app_context(), db.open_session(db.get_engine()) as session:
        queue_one(session, "Never")
        deliver_after_commit(session)
        session.rollback()

    assert queue_for(app.config, app.instance_path).pending_count() == 0
    assert outbox(app) == []
    assert smtp_server.transactions == 0


def test_without_delivery_after_commit_the_scheduler_is_left_to_send(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app(DELIVER_AFTER_COMMIT=False, QUEUE_URL="immediate")
    with app.app_context(), db.transaction(db.get_engine()) as session:
        queue_one(session, "Later")
        deliver_after_commit(session)

    assert smtp_server.transactions == 0
    assert [message.status for message in outbox(app)] == [OutboxStatus.PENDING]


def test_a_web_request_only_queues_the_delivery_of_its_email(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    """A mail server that never answers would hold no request: the request sends nothing."""
    app = make_app()

    answer = file_request(app.test_client(), language="fr")

    assert answer.status_code == 302
    assert smtp_server.transactions == 0
    assert [message.status for message in outbox(app)] == [OutboxStatus.PENDING]
    assert run_queued_jobs(app) == 1
    assert len(smtp_server.wait_for(1)) == 1


# --- the same work whatever the address -------------------------------------------------------


@dataclass
class StatementLog:
    """The SQL statements an engine ran, with the thread that ran each."""

    entries: list[tuple[int, str]] = field(default_factory=list)

    def on(self, thread: int) -> list[str]:
        return [statement for ident, statement in self.entries if ident == thread]

    def clear(self) -> None:
        self.entries.clear()


def queue_storage(app: Flask) -> bytes:
    """Every byte of `app`'s queue as stored (its SQLite file and journals)."""
    target = Path(queue_address(app.config, app.instance_path).target)
    return b"".join(path.read_bytes() for path in sorted(target.parent.glob(target.name + "*")))


def log_statements(engine: Engine) -> StatementLog:
    statements = StatementLog()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.entries.append((threading.get_ident(), statement))

    event.listen(engine, "before_cursor_execute", record)
    return statements


def test_a_new_link_is_asked_for_with_the_same_statements_whatever_the_address(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app()
    client = app.test_client()
    assert file_request(client, "known@example.org").status_code == 302
    run_queued_jobs(app)
    smtp_server.wait_for(1)
    statements = log_statements(db.get_engine(app))
    here = threading.get_ident()
    in_the_request: dict[str, list[str]] = {}

    for email in ("known@example.org", "nobody@example.org"):
        page = client.get("/resend")
        statements.clear()
        answer = client.post("/resend", data={"csrf_token": csrf_token(page), "email": email})
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/resend/sent"
        in_the_request[email] = statements.on(here)

    assert in_the_request["known@example.org"] == in_the_request["nobody@example.org"]
    assert not any(
        "INSERT" in statement or "UPDATE" in statement
        for statement in in_the_request["known@example.org"]
    )
    # The look-ups are the worker's jobs; the addresses they carry are sealed in the queue.
    stored = queue_storage(app)
    assert b"resend_verification" in stored
    assert b"known@example.org" not in stored and b"nobody@example.org" not in stored
    while run_queued_jobs(app):
        pass
    received = smtp_server.wait_for(2)
    assert [mail.envelope_recipients for mail in received] == [
        ("known@example.org",),
        ("known@example.org",),
    ]
    assert "/verify/" in received[1].text


def test_a_password_reset_is_asked_for_with_the_same_statements_whatever_the_address(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app()
    staff = make_staff(db.get_engine(app), role=StaffRole.DPO)
    client = app.test_client()
    statements = log_statements(db.get_engine(app))
    here = threading.get_ident()
    in_the_request: dict[str, list[str]] = {}

    for email in (staff.email, "nobody@example.org"):
        page = client.get("/staff/password/forgot")
        statements.clear()
        answer = client.post(
            "/staff/password/forgot", data={"csrf_token": csrf_token(page), "email": email}
        )
        assert answer.status_code == 302
        in_the_request[email] = statements.on(here)

    assert in_the_request[staff.email] == in_the_request["nobody@example.org"]
    assert not any("INSERT" in statement for statement in in_the_request[staff.email])
    stored = queue_storage(app)
    assert b"send_password_reset" in stored
    assert staff.email.encode() not in stored and b"nobody@example.org" not in stored
    while run_queued_jobs(app):
        pass
    [mail] = smtp_server.wait_for(1)
    assert mail.envelope_recipients == (staff.email,)
    assert "/staff/password/reset/" in mail.text
    assert smtp_server.messages == [mail]  # nothing for the unknown address
