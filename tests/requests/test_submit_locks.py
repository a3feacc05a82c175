"""A submission holds the audit chain's head for as short a time as it can (issue 17): every
other submission waits for it until its commit. While its confirmation email is rendered and
queued, another transaction can still append to the chain; the events are the same, in the same
order. On the engines that lock rows (PostgreSQL, MariaDB)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent, append_action, verify_audit
from dsr.outbox.models import OutboxMessage
from dsr.requests.links import LinkSigner
from dsr.requests.models import DataRequest, ReferenceCounter, next_reference
from dsr.requests.service import SubmitResult, submit_request
from dsr.requests.workflow import Actor, RequestType
from tests.waiting import WAIT_SECONDS, wait_until_a_lock_is_awaited

pytestmark = pytest.mark.databases("postgresql", "mariadb")

NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
EMAIL = "zoe.lefevre@example.org"
LINKS = LinkSigner(
    "a-test-secret-key",
    verify_url=lambda token: f"https://desk.example/verify/{token}",
    status_url=lambda token: f"https://desk.example/status/{token}",
)


def submit(engine: Engine, *types: RequestType) -> SubmitResult:
    with db.transaction(engine) as session:
        return submit_request(
            db_session=session,
            email=EMAIL,
            types=list(types),
            language="en",
            message=None,
            rectification=None,
            now=NOW,
            zone=ZoneInfo("Europe/Paris"),
            links=LINKS,
        )


def _is_free(engine: Engine, table: str) -> bool:
    """Say whether another transaction may lock the rows of `table` (the chain's head, the
    years' counters) right now, without waiting."""
    with engine.connect() as other:
        try:
            other.execute(text(f"SELECT 1 FROM {table} FOR UPDATE NOWAIT"))  # noqa: S608
        except OperationalError:
            return False
        finally:
            other.rollback()
    return True


def _head_is_free(engine: Engine) -> bool:
    return _is_free(engine, "dsr_audit_head")


@contextmanager
def head_when_email_queued(engine: Engine) -> Iterator[list[bool]]:
    """Record, at each email queued, whether the chain's head was free then."""
    seen: list[bool] = []

    def probe(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DSR_OUTBOX_MESSAGE"):
            seen.append(_head_is_free(engine))

    event.listen(engine, "before_cursor_execute", probe)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", probe)


def test_the_chain_head_is_free_while_a_new_submission_queues_its_email(store: Engine) -> None:
    with head_when_email_queued(store) as seen:
        result = submit(store, RequestType.ACCESS, RequestType.ERASURE)
    assert seen == [True]
    with db.open_session(store) as session:
        events = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()
        assert [(e.request_id, e.action) for e in events] == [
            (part.id, "submitted") for part in result.parts
        ]
        assert verify_audit(db_session=session).ok


def test_the_chain_head_is_free_while_a_resubmission_queues_its_email(store: Engine) -> None:
    first = submit(store, RequestType.ACCESS)
    with head_when_email_queued(store) as seen:
        again = submit(store, RequestType.ACCESS, RequestType.ERASURE)
    assert seen == [True, True]  # the access's new link, the erasure's confirmation
    access, erasure = again.parts[1], again.parts[0]
    assert access.id == first.request.id
    with db.open_session(store) as session:
        events = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()
        assert [(e.request_id, e.action) for e in events] == [
            (access.id, "submitted"),
            (access.id, "resubmitted"),
            (erasure.id, "submitted"),
        ]
        assert verify_audit(db_session=session).ok


@pytest.mark.databases("postgresql")
def test_a_new_submission_writes_each_row_once(store: Engine) -> None:
    """One statement looks for an open twin and takes the new request's id; one more takes its
    number and writes the request with it, its email with it and its event: every row is
    written once."""
    written: list[tuple[str, list[str]]] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        tables = re.findall(r"\b(?:FROM|INSERT INTO|UPDATE)\s+(dsr_\w+)", statement)
        written.append((statement.split()[0], list(dict.fromkeys(tables))))

    event.listen(store, "before_cursor_execute", note)
    try:
        result = submit(store, RequestType.ACCESS)
    finally:
        event.remove(store, "before_cursor_execute", note)
    assert written == [
        ("SELECT", ["dsr_request"]),  # an open request like it? and the new one's id
        (
            "WITH",
            [
                "dsr_reference_counter",  # the year's number taken
                "dsr_request",  # the request, numbered
                "dsr_outbox_message",  # its email, numbered
                "dsr_audit_head",  # the head locked and moved
                "dsr_request_event",  # the event
            ],
        ),
    ]
    with db.open_session(store) as session:
        email = session.exec(select(OutboxMessage)).one()
        assert result.request.reference in email.subject
        assert result.request.reference in email.text_body
        assert email.html_body is not None and result.request.reference in email.html_body
        assert "PENDING-" not in email.subject + email.text_body + email.html_body
        stored = session.exec(select(DataRequest)).one()
        assert stored.reference == result.request.reference
        assert verify_audit(db_session=session).ok


@pytest.mark.databases("postgresql")
def test_a_new_submission_takes_the_counter_and_the_head_in_its_last_statement(
    store: Engine,
) -> None:
    """Every other submission waits for the year's counter and the chain's head until this one
    commits: neither is held across a round trip of the web process, only from the statement
    that numbers the request, writes its email and appends its event, to the commit."""
    submit(store, RequestType.ACCESS)  # the year's counter row exists
    free: list[tuple[bool, bool]] = []

    def probe(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "NOWAIT" not in statement:  # not the probe's own
            free.append((_is_free(store, "dsr_reference_counter"), _head_is_free(store)))

    event.listen(store, "before_cursor_execute", probe)
    try:
        with db.transaction(store) as session:
            submit_request(
                db_session=session,
                email="another@example.org",
                types=[RequestType.ERASURE],
                language="fr",
                message="Un message.",
                rectification=None,
                now=NOW,
                zone=ZoneInfo("Europe/Paris"),
                links=LINKS,
            )
            probe(None, None, "")  # after the last statement, before the commit
    finally:
        event.remove(store, "before_cursor_execute", probe)
    assert free[:-1] == [(True, True)] * (len(free) - 1)
    assert free[-1] == (False, False)


@pytest.mark.databases("postgresql")
@pytest.mark.parametrize(
    ("last_number", "reference"),
    [(0, "DSR-2026-000001"), (41, "DSR-2026-000042"), (999_999, "DSR-2026-1000000")],
)
def test_the_database_numbers_a_submission_as_next_reference_does(
    store: Engine, last_number: int, reference: str
) -> None:
    with db.transaction(store) as session:
        session.add(ReferenceCounter(year=2026, last_number=last_number))
    result = submit(store, RequestType.OBJECTION)
    assert result.request.reference == reference
    with db.transaction(store) as session:
        assert next_reference(db_session=session, received_at=NOW) == (
            f"DSR-2026-{last_number + 2:06d}"
        )
        email = session.exec(select(OutboxMessage)).one()
        assert f"{reference} " in email.subject or email.subject.endswith(reference)


@pytest.mark.databases("postgresql")
def test_a_submission_that_waited_for_the_counter_and_the_head_follows_the_one_before(
    store: Engine,
) -> None:
    """Its statement waits while another transaction holds the year's counter and the chain's
    head; once that one commits, it takes the next number and links its event to the event
    written meanwhile (the head as that transaction left it, not as it was when the statement
    began)."""
    first = submit(store, RequestType.ACCESS)
    problems: list[BaseException] = []
    results: list[SubmitResult] = []

    def submit_meanwhile() -> None:
        try:
            results.append(submit(store, RequestType.ERASURE))
        except BaseException as problem:  # reported by the test, not lost in the thread
            problems.append(problem)

    with db.transaction(store) as holder:
        held = next_reference(db_session=holder, received_at=NOW)
        append_action(
            db_session=holder,
            request=holder.get(DataRequest, first.request.id),
            actor=Actor.SYSTEM,
            action="noted",
            at=NOW,
        )
        waiter = threading.Thread(target=submit_meanwhile)
        waiter.start()
        wait_until_a_lock_is_awaited(store, "the submission waiting for the counter")
    waiter.join(timeout=WAIT_SECONDS)

    assert problems == []
    assert held == "DSR-2026-000002"
    assert results[0].request.reference == "DSR-2026-000003"
    with db.open_session(store) as session:
        events = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()
        assert [(e.request_id, e.action) for e in events] == [
            (first.request.id, "submitted"),
            (first.request.id, "noted"),
            (results[0].request.id, "submitted"),
        ]
        assert events[2].previous_hash == events[1].hash
        assert verify_audit(db_session=session).ok
        email = session.exec(
            select(OutboxMessage).where(OutboxMessage.request_id == results[0].request.id)
        ).one()
        assert "DSR-2026-000003" in email.subject
