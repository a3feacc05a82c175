"""A submission holds the audit chain's head for as short a time as it can (issue 17): every
other submission waits for it until its commit. While its confirmation email is rendered and
queued, another transaction can still append to the chain; the events are the same, in the same
order. On the engines that lock rows (PostgreSQL, MariaDB)."""

from __future__ import annotations

import re
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
from dsr.audit.models import RequestEvent, verify_audit
from dsr.outbox.models import OutboxMessage
from dsr.requests.links import LinkSigner
from dsr.requests.service import SubmitResult, submit_request
from dsr.requests.workflow import RequestType

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


def _head_is_free(engine: Engine) -> bool:
    """Say whether another transaction may lock the chain's head right now, without waiting."""
    with engine.connect() as other:
        try:
            other.execute(
                text("SELECT last_sequence FROM dsr_audit_head WHERE id = 1 FOR UPDATE NOWAIT")
            )
        except OperationalError:
            return False
        finally:
            other.rollback()
    return True


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
    """The request is inserted with its link's nonce, and its email once its reference is
    numbered: no row is written and then updated but the request's provisional reference."""
    written: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        verb = statement.split()[0]
        found = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", statement)
        written.append(f"{verb} {found.group(1) if found else '?'}")

    event.listen(store, "before_cursor_execute", note)
    try:
        result = submit(store, RequestType.ACCESS)
    finally:
        event.remove(store, "before_cursor_execute", note)
    assert written == [
        "SELECT dsr_request",  # an open request like it?
        "INSERT dsr_request",
        "INSERT dsr_reference_counter",
        "INSERT dsr_outbox_message",
        "UPDATE dsr_request",  # its reference
        "WITH dsr_audit_head",  # the head locked, moved and the event written, in one statement
    ]
    with db.open_session(store) as session:
        email = session.exec(select(OutboxMessage)).one()
        assert result.request.reference in email.subject
        assert result.request.reference in email.text_body
