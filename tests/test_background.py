"""Work that leaves the web request: emails and status callbacks are delivered after the commit on
a background thread, so a mail server or a callback endpoint that never answers holds no request;
and the pages that take an email address (a new verification link, a forgotten password) do the
same work whatever the address, leaving the look-up itself to the background."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.background import deliver_after_commit, wait_idle
from dsr.languages import Language
from dsr.outbox.emails import RenderedEmail
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import enqueue
from dsr.requests.models import DataRequest
from tests.accounts.helpers import login, make_staff, post_form
from tests.api.conftest import ApiCaller, issue_token, new_request
from tests.conftest import MakeApp
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.web.conftest import file_request

CONDITION_TIMEOUT = 120.0
"""How long a test waits for a condition (a bound that matters only when something hangs)."""


# --- a peer that accepts connections and never answers ------------------------------------------


@dataclass
class SilentPeer:
    """A TCP server on loopback that accepts connections and never says a word, like a mail
    server or a callback endpoint that hangs; it tells whether a client is still waiting."""

    listener: socket.socket
    accepted: list[socket.socket] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def port(self) -> int:
        port: int = self.listener.getsockname()[1]
        return port

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed at the end of the test
            with self.changed:
                self.accepted.append(connection)
                self.changed.notify_all()

    def wait_for_a_client(self) -> socket.socket:
        with self.changed:
            if not self.changed.wait_for(lambda: self.accepted, CONDITION_TIMEOUT):
                raise AssertionError("nobody connected")
            return self.accepted[0]

    @staticmethod
    def still_waiting(connection: socket.socket) -> bool:
        """True while the client keeps the connection open without having sent a thing."""
        connection.setblocking(False)
        try:
            return connection.recv(1, socket.MSG_PEEK) != b""  # data: it did not wait
        except BlockingIOError:
            return True  # open, nothing sent
        except OSError:
            return False
        finally:
            connection.setblocking(True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of `serve`
        self.listener.close()
        with self.changed:
            for connection in self.accepted:
                connection.close()


@pytest.fixture
def silent_peer() -> Iterator[SilentPeer]:
    listener = socket.create_server(("127.0.0.1", 0))
    peer = SilentPeer(listener)
    thread = threading.Thread(target=peer.serve, daemon=True)
    thread.start()
    yield peer
    peer.close()
    thread.join(CONDITION_TIMEOUT)


# --- statements per thread --------------------------------------------------------------------


@dataclass
class StatementLog:
    """The SQL statements an engine ran, with the thread that ran each."""

    entries: list[tuple[int, str]] = field(default_factory=list)

    def on(self, thread: int) -> list[str]:
        return [statement for ident, statement in self.entries if ident == thread]

    def clear(self) -> None:
        self.entries.clear()


def log_statements(engine: Engine) -> StatementLog:
    statements = StatementLog()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.entries.append((threading.get_ident(), statement))

    event.listen(engine, "before_cursor_execute", record)
    return statements


def outbox(app: Flask) -> list[OutboxMessage]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(OutboxMessage)).all())


# --- deliveries after the commit --------------------------------------------------------------


def queue_one(session: db.Session, subject: str) -> None:
    enqueue(
        db_session=session,
        to="zoe.lefevre@example.org",
        email=RenderedEmail(subject=subject, text="Text", html=None),
        language=Language.EN,
        dedup_key=None,
        now=db.utcnow(),
    )


def test_an_email_is_delivered_once_its_transaction_commits(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app()
    with app.app_context(), db.open_session(db.get_engine()) as session:
        queue_one(session, "Right away")
        deliver_after_commit(session)
        assert wait_idle(CONDITION_TIMEOUT)
        assert smtp_server.transactions == 0  # nothing before the commit
        session.commit()

    assert [mail.message["Subject"] for mail in smtp_server.wait_for(1)] == ["Right away"]
    [message] = outbox(app)
    assert message.status is OutboxStatus.SENT


def test_nothing_is_delivered_when_the_transaction_rolls_back(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app()
    with app.app_context(), db.open_session(db.get_engine()) as session:
        queue_one(session, "Never")
        deliver_after_commit(session)
        session.rollback()

    assert outbox(app) == []
    assert smtp_server.transactions == 0


def test_without_delivery_after_commit_the_scheduler_is_left_to_send(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app(DELIVER_AFTER_COMMIT=False)
    with app.app_context(), db.transaction(db.get_engine()) as session:
        queue_one(session, "Later")
        deliver_after_commit(session)

    assert smtp_server.transactions == 0
    assert [message.status for message in outbox(app)] == [OutboxStatus.PENDING]


def test_a_mail_server_that_never_answers_holds_no_web_request(
    make_app: MakeApp, silent_peer: SilentPeer
) -> None:
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=silent_peer.port, SMTP_TIMEOUT=600)

    answer = file_request(app.test_client(), language="fr")

    assert answer.status_code == 302
    # The answer came back; the delivery it queued is still waiting for the silent server (sent
    # inside the request, the answer could only have come after the 600 s time-out).
    assert SilentPeer.still_waiting(silent_peer.wait_for_a_client())
    silent_peer.close()  # the waiting delivery fails now, and is left for a retry
    with db.open_session(db.get_engine(app)) as session:
        assert session.exec(select(DataRequest)).one().normalized_email == (
            "zoe.lefevre@example.org"
        )


# --- status callbacks -------------------------------------------------------------------------


CALLBACK_SETTINGS = {
    "CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "API_CALLBACK_TIMEOUT_SECONDS": 600,
}


def filed_with_a_silent_callback(
    make_app: MakeApp, silent_peer: SilentPeer, database_url: str
) -> tuple[Flask, ApiCaller, str]:
    """File a request through the API of an app on `database_url` whose status callback goes to
    the silent peer; return the app, the platform's caller and the request's reference."""
    app = make_app(DATABASE_URL=database_url, **CALLBACK_SETTINGS)
    platform = ApiCaller(app.test_client(), issue_token(app, "platform"))
    url = f"http://127.0.0.1:{silent_peer.port}/hook"
    created = platform.post(new_request(status_callback_urls=[url]))
    assert created.status_code == 201, created.get_json()
    return app, platform, created.get_json()["reference"]


def test_a_callback_endpoint_that_never_answers_holds_no_api_call(
    make_app: MakeApp, silent_peer: SilentPeer, migrated_url: str
) -> None:
    _, platform, reference = filed_with_a_silent_callback(make_app, silent_peer, migrated_url)

    cancelled = platform.delete(f"/api/v1/requests/{reference}")

    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled"
    assert SilentPeer.still_waiting(silent_peer.wait_for_a_client())
    silent_peer.close()  # the waiting delivery fails now, and is left for a retry


def test_a_callback_endpoint_that_never_answers_holds_no_staff_click(
    make_app: MakeApp, silent_peer: SilentPeer, migrated_url: str
) -> None:
    app, _, reference = filed_with_a_silent_callback(make_app, silent_peer, migrated_url)
    dpo = make_staff(db.get_engine(app), role=StaffRole.DPO)
    staff = app.test_client()
    assert login(staff, dpo.email).status_code == 302
    with db.open_session(db.get_engine(app)) as session:
        version = session.exec(
            select(DataRequest.version_id).where(DataRequest.reference == reference)
        ).one()

    clicked = post_form(
        staff,
        f"/dashboard/requests/{reference}/review",
        {"version_id": str(version)},
        form_page=f"/dashboard/requests/{reference}",
    )

    assert clicked.status_code == 303
    assert SilentPeer.still_waiting(silent_peer.wait_for_a_client())
    silent_peer.close()  # the waiting delivery fails now, and is left for a retry


# --- the same work whatever the address -------------------------------------------------------


def test_a_new_link_is_asked_for_with_the_same_statements_whatever_the_address(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app()
    client = app.test_client()
    assert file_request(client, "known@example.org").status_code == 302
    smtp_server.wait_for(1)
    statements = log_statements(db.get_engine(app))
    here = threading.get_ident()
    on_this_thread: dict[str, list[str]] = {}

    for email in ("known@example.org", "nobody@example.org"):
        page = client.get("/resend")
        statements.clear()
        answer = client.post("/resend", data={"csrf_token": csrf_token(page), "email": email})
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/resend/sent"
        on_this_thread[email] = statements.on(here)

    assert on_this_thread["known@example.org"] == on_this_thread["nobody@example.org"]
    assert not any(
        "INSERT" in statement or "UPDATE" in statement
        for statement in on_this_thread["known@example.org"]
    )
    # The look-up happened off the request, and only the known address got a new link.
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
    on_this_thread: dict[str, list[str]] = {}

    for email in (staff.email, "nobody@example.org"):
        page = client.get("/staff/password/forgot")
        statements.clear()
        answer = client.post(
            "/staff/password/forgot", data={"csrf_token": csrf_token(page), "email": email}
        )
        assert answer.status_code == 302
        on_this_thread[email] = statements.on(here)

    assert on_this_thread[staff.email] == on_this_thread["nobody@example.org"]
    assert not any("INSERT" in statement for statement in on_this_thread[staff.email])
    [mail] = smtp_server.wait_for(1)
    assert mail.envelope_recipients == (staff.email,)
    assert "/staff/password/reset/" in mail.text
    assert smtp_server.messages == [mail]  # nothing for the unknown address
