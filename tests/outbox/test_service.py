"""The outbox on real databases and a real SMTP server on loopback: messages are queued once,
delivered once, retried while the server refuses or is down, and never lost across a restart."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.languages import Language
from dsr.outbox import service
from dsr.outbox.cli import outbox_group
from dsr.outbox.emails import RenderedEmail
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import DeliveryReport, claim_lease, deliver_due, enqueue
from dsr.outbox.smtp import MAX_ATTEMPTS, SmtpConnection, SmtpSettings, next_attempt_delay
from tests.smtp_server import SmtpServer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = "zoe.lefevre@example.org"


@pytest.fixture
def store(migrated_url: str) -> Iterator[Engine]:
    """A migrated store on this run's engine (a copy of one migrated once per test process)."""
    engine = db.make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(smtp_server: SmtpServer) -> SmtpSettings:
    return SmtpSettings(
        host=smtp_server.host,
        port=smtp_server.port,
        timeout=30,  # a bound on the loopback server's answers, which come at once
        sender="Privacy desk <dpo@example.org>",
    )


def queue(engine: Engine, count: int = 1, *, to: str = ADDRESS, at: datetime = NOW) -> list[int]:
    """Queue `count` messages due at `at` and commit; return their ids."""
    with db.transaction(engine) as session:
        messages = [
            enqueue(
                db_session=session,
                to=to,
                email=RenderedEmail(
                    subject=f"Message {number}", text=f"Text {number}", html=f"<p>Text {number}</p>"
                ),
                language=Language.EN,
                dedup_key=f"test:{number}",
                now=at,
            )
            for number in range(count)
        ]
        session.flush()
        return [message.id for message in messages if message.id is not None]


def soon_after(moment: datetime, expected: datetime) -> bool:
    """Tell whether `moment` is `expected` plus the few seconds a delivery run takes."""
    return expected <= moment < expected + timedelta(seconds=30)


def stored(engine: Engine) -> list[OutboxMessage]:
    with db.open_session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def deliver(engine: Engine, settings: SmtpSettings, at: datetime = NOW) -> DeliveryReport:
    return deliver_due(engine_or_session_factory=engine, settings=settings, now=at)


def test_the_same_cause_queues_one_message(store: Engine) -> None:
    with db.transaction(store) as session:
        first = enqueue(
            db_session=session,
            to=ADDRESS,
            email=RenderedEmail(subject="Hello", text="Text", html=None),
            language=Language.FR,
            dedup_key="verification:1:abc",
            now=NOW,
        )
        second = enqueue(
            db_session=session,
            to=ADDRESS,
            email=RenderedEmail(subject="Hello again", text="Other text", html=None),
            language=Language.FR,
            dedup_key="verification:1:abc",
            now=NOW,
        )
        assert second is first
    with db.transaction(store) as session:  # and in a later transaction too
        again = enqueue(
            db_session=session,
            to=ADDRESS,
            email=RenderedEmail(subject="Hello later", text="Text", html=None),
            language=Language.FR,
            dedup_key="verification:1:abc",
            now=NOW,
        )
        assert again.subject == "Hello"
    assert [message.subject for message in stored(store)] == ["Hello"]


def test_a_new_key_is_queued_by_the_callers_flush_with_one_statement(store: Engine) -> None:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0])

    with db.transaction(store) as session:
        session.connection()  # the transaction begun: only enqueue's statements are counted
        event.listen(store, "before_cursor_execute", count)
        try:
            message = enqueue(
                db_session=session,
                to=ADDRESS,
                email=RenderedEmail(subject="Hello PENDING-1", text="Text", html=None),
                language=Language.FR,
                dedup_key="verification:1:fresh-nonce",
                now=NOW,
                new_key=True,
            )
            assert statements == []  # nothing looked up, no savepoint: added, not flushed
            message.subject = "Hello R-2026-00001"  # the caller may still change it
            session.flush()
        finally:
            event.remove(store, "before_cursor_execute", count)
    assert statements == ["INSERT"]
    assert [(m.subject, m.dedup_key) for m in stored(store)] == [
        ("Hello R-2026-00001", "verification:1:fresh-nonce")
    ]


def test_a_key_is_claimed_by_the_insert_where_the_engine_can(store: Engine) -> None:
    """With a dedup key, the message is added by one INSERT ... ON CONFLICT DO NOTHING
    (PostgreSQL, SQLite: no look-up before it, no savepoint around it); MariaDB looks it up,
    then keeps the savepoint."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0])

    with db.transaction(store) as session:
        session.connection()
        event.listen(store, "before_cursor_execute", count)
        try:
            message = enqueue(
                db_session=session,
                to=ADDRESS,
                email=RenderedEmail(subject="Done", text="Text", html=None),
                language=Language.FR,
                dedup_key="erasure-done:7",
                now=NOW,
            )
        finally:
            event.remove(store, "before_cursor_execute", count)
        assert message.id is not None
    if store.dialect.name in ("postgresql", "sqlite"):
        assert statements == ["INSERT"]
    else:
        assert statements == ["SELECT", "SAVEPOINT", "INSERT", "RELEASE"]
    assert [(m.id, m.dedup_key) for m in stored(store)] == [(message.id, "erasure-done:7")]


def test_due_messages_are_sent_once_and_marked_sent(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    queue(store, 2)

    assert deliver(store, settings) == DeliveryReport(sent=2)
    assert deliver(store, settings, NOW + timedelta(hours=1)) == DeliveryReport()

    received = smtp_server.wait_for(2)
    messages = stored(store)
    assert [mail.message["Message-ID"] for mail in received] == [m.message_id for m in messages]
    assert received[0].envelope_recipients == (ADDRESS,)
    assert received[0].envelope_sender == "dpo@example.org"
    assert received[0].message["Subject"] == "Message 0"
    assert received[0].html == "<p>Text 0</p>\n"
    for message in messages:
        assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
        assert message.sent_at is not None and soon_after(message.sent_at, NOW)
        assert message.claimed_until is None


def test_a_message_not_yet_due_waits(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    queue(store, 1, at=NOW + timedelta(minutes=5))

    assert deliver(store, settings) == DeliveryReport()
    report = deliver_due(  # a session factory serves as well as an engine
        engine_or_session_factory=lambda: db.open_session(store),
        settings=settings,
        now=NOW + timedelta(minutes=5),
    )
    assert report == DeliveryReport(sent=1)
    assert len(smtp_server.wait_for(1)) == 1


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_refusing_server_gets_every_message_exactly_once_when_it_recovers(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    queue(store, 3)
    smtp_server.refuse_next(2, 451)

    assert deliver(store, settings) == DeliveryReport(sent=1, retried=2)
    assert deliver(store, settings, NOW + timedelta(seconds=30)) == DeliveryReport()
    smtp_server.refuse_next(1, 421, at="MAIL")
    assert deliver(store, settings, NOW + timedelta(minutes=2)) == DeliveryReport(sent=1, retried=1)
    assert deliver(store, settings, NOW + timedelta(minutes=5)) == DeliveryReport(sent=1)

    received = smtp_server.wait_for(3)
    assert len(received) == 3
    messages = stored(store)
    assert sorted(mail.message["Message-ID"] for mail in received) == sorted(
        message.message_id for message in messages
    )
    assert sorted(message.attempts for message in messages) == [1, 2, 3]
    assert all(message.status is OutboxStatus.SENT for message in messages)


def test_a_server_down_is_retried_with_backoff(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    queue(store, 1)
    smtp_server.stop()

    assert deliver(store, settings) == DeliveryReport(retried=1)
    [message] = stored(store)
    assert message.status is OutboxStatus.PENDING
    assert message.attempts == 1
    assert soon_after(message.next_attempt_at, NOW + next_attempt_delay(1))
    assert message.last_error is not None and message.last_error.startswith("cannot connect")

    second_try = NOW + next_attempt_delay(1) + timedelta(seconds=30)
    assert deliver(store, settings, second_try) == DeliveryReport(retried=1)
    [message] = stored(store)
    assert soon_after(message.next_attempt_at, second_try + next_attempt_delay(2))

    smtp_server.start()
    assert deliver(store, settings, NOW + timedelta(hours=1)) == DeliveryReport(sent=1)
    assert len(smtp_server.wait_for(1)) == 1


def test_a_permanent_refusal_fails_without_logging_the_address(
    store: Engine,
    settings: SmtpSettings,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue(store, 1)
    smtp_server.refuse_next(1, 550, at="RCPT")

    with caplog.at_level(logging.DEBUG):
        assert deliver(store, settings) == DeliveryReport(failed=1)
        assert deliver(store, settings, NOW + timedelta(days=2)) == DeliveryReport()

    [message] = stored(store)
    assert message.status is OutboxStatus.FAILED
    assert message.last_error == "recipient refused: 550 5.0.0"
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("dsr"))
    assert "failed for good" in ours
    assert "zoe" not in ours.lower()
    assert smtp_server.messages == []


def test_it_gives_up_after_the_last_attempt(store: Engine, settings: SmtpSettings) -> None:
    [message_id] = queue(store, 1)
    with db.transaction(store) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        message.attempts = MAX_ATTEMPTS - 1
    settings = SmtpSettings(host=settings.host, port=1, timeout=1)  # nobody listens on port 1

    assert deliver(store, settings) == DeliveryReport(failed=1)
    [message] = stored(store)
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, MAX_ATTEMPTS)


def test_a_bad_address_fails_alone(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    queue(store, 1, to="not an address")
    with db.transaction(store) as session:
        enqueue(
            db_session=session,
            to=ADDRESS,
            email=RenderedEmail(subject="Good one", text="Text", html=None),
            language=Language.EN,
            dedup_key="test:good",
            now=NOW,
        )

    assert deliver(store, settings) == DeliveryReport(sent=1, failed=1)
    bad, good = stored(store)
    assert bad.status is OutboxStatus.FAILED
    assert bad.last_error == "cannot be sent: the recipient is not a valid email address"
    assert good.status is OutboxStatus.SENT
    assert [mail.message["Subject"] for mail in smtp_server.wait_for(1)] == ["Good one"]


def test_a_claimed_message_is_left_to_its_sender_until_the_lease_ends(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    [message_id] = queue(store, 1)
    with db.transaction(store) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        message.claimed_until = NOW + timedelta(minutes=10)

    assert deliver(store, settings) == DeliveryReport()
    assert smtp_server.messages == []
    assert deliver(store, settings, NOW + timedelta(minutes=10)) == DeliveryReport(sent=1)
    assert len(smtp_server.wait_for(1)) == 1


@pytest.mark.databases("sqlite", "postgresql")
def test_a_run_claims_the_due_messages_in_one_statement_on_one_connection(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    queue(store, 2)
    statements: list[str] = []
    checkouts: list[object] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(statement.split()[0])

    event.listen(store, "before_cursor_execute", note)
    event.listen(store.pool, "checkout", lambda *args: checkouts.append(args))
    try:
        assert deliver(store, settings) == DeliveryReport(sent=2)
    finally:
        event.remove(store, "before_cursor_execute", note)
    # one claim (UPDATE ... RETURNING both, fewer than a batch: none left), each marked sent
    assert statements == ["UPDATE"] * 3
    assert len(checkouts) == 1
    assert len(smtp_server.wait_for(2)) == 2


@pytest.mark.databases("sqlite", "postgresql")
def test_claims_not_tried_when_half_the_lease_has_gone_are_given_back(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(store, 3)
    elapsed = [0.0]
    attempt = service._attempt

    def slow_attempt(*args: Any, **kwargs: Any) -> Any:
        elapsed[0] += claim_lease(settings).total_seconds() * 0.6  # more than half a lease
        return attempt(*args, **kwargs)

    given_back: list[list[int]] = []
    release = service._release

    def noted_release(new_session: Any, claims: list[Any], **kwargs: Any) -> None:
        given_back.append([claimed.id for claimed in claims])
        with db.open_session(store) as session:  # still held by this sender until released
            assert all(
                (m := session.get(OutboxMessage, claimed.id)) and m.claimed_until is not None
                for claimed in claims
            )
        release(new_session, claims, **kwargs)

    monkeypatch.setattr(service, "time", SimpleNamespace(monotonic=lambda: elapsed[0]))
    monkeypatch.setattr(service, "_attempt", slow_attempt)
    monkeypatch.setattr(service, "_release", noted_release)

    assert deliver(store, settings) == DeliveryReport(sent=3)
    first, second, third = (message.id for message in stored(store))
    assert given_back == [[second, third], [third]]
    assert len({mail.message["Message-ID"] for mail in smtp_server.wait_for(3)}) == 3
    assert all((m.attempts, m.claimed_until) == (1, None) for m in stored(store))


def test_a_connection_given_to_runs_stays_open_for_the_next(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    with SmtpConnection(settings) as connection:
        for at in (NOW, NOW + timedelta(minutes=1)):
            with db.transaction(store) as session:
                enqueue(
                    db_session=session,
                    to=ADDRESS,
                    email=RenderedEmail(subject="Hello", text="Text", html=None),
                    language=Language.EN,
                    dedup_key=None,
                    now=at,
                )
            report = deliver_due(
                engine_or_session_factory=store, settings=settings, now=at, smtp=connection
            )
            assert report == DeliveryReport(sent=1)
            client = connection._client
            assert client is not None and client.noop()[0] == 250  # still open
    assert len(smtp_server.wait_for(2)) == 2


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_two_senders_never_send_the_same_message(
    store: Engine, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    queue(store, 12)
    reports: list[DeliveryReport] = []
    start = threading.Barrier(2)

    def sender() -> None:
        start.wait()
        reports.append(deliver(store, settings))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(report.sent for report in reports) == 12
    received = smtp_server.wait_for(12)
    assert len({mail.message["Message-ID"] for mail in received}) == len(received) == 12
    assert all(message.attempts == 1 for message in stored(store))


@pytest.mark.databases("sqlite", "postgresql")
def test_a_message_queued_before_a_restart_is_delivered_after_it(
    engine_url: str, settings: SmtpSettings, smtp_server: SmtpServer
) -> None:
    db.run_migrations(engine_url)
    before = db.make_engine(engine_url)
    queue(before, 1)
    before.dispose()

    after = db.make_engine(engine_url)
    try:
        assert deliver(after, settings) == DeliveryReport(sent=1)
    finally:
        after.dispose()
    assert len(smtp_server.wait_for(1)) == 1


@pytest.mark.databases("sqlite")
def test_the_send_command_delivers_what_is_due(
    store: Engine, engine_url: str, smtp_server: SmtpServer
) -> None:
    queue(store, 2, at=datetime.now(UTC) - timedelta(minutes=1))
    env = {
        "DSR_DATABASE_URL": engine_url,
        "DSR_SMTP_HOST": smtp_server.host,
        "DSR_SMTP_PORT": str(smtp_server.port),
        "DSR_MAIL_SENDER": "dpo@example.org",
    }

    result = CliRunner().invoke(outbox_group, ["send"], env=env)

    assert (result.exit_code, result.output) == (
        0,
        "Sent 2, rescheduled 0, failed for good 0.\n",
    )
    assert len(smtp_server.wait_for(2)) == 2


@pytest.mark.databases("sqlite")
def test_the_send_command_refuses_bad_settings(engine_url: str) -> None:
    result = CliRunner().invoke(
        outbox_group,
        ["send", "--database-url", engine_url],
        env={"DSR_SMTP_PORT": "twenty-five"},
    )
    assert result.exit_code == 1
    assert "SMTP_PORT must be a whole number" in result.output


@pytest.mark.databases("sqlite")
def test_a_store_behind_is_refused_by_the_send_command(engine_url: str) -> None:
    result = CliRunner().invoke(outbox_group, ["send", "--database-url", engine_url])
    assert result.exit_code == 1
    assert "run `dsr db upgrade`" in result.output
