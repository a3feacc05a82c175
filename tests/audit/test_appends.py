"""Appends to the stored chain in one transaction: on PostgreSQL each event (with its content)
is written in one statement that locks the head, moves it and links the event to it;
on every engine, appends in one transaction, around a savepoint rolled back, and in the next
transaction leave a log that verifies, numbered without a gap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from dsr import db
from dsr.audit.models import (
    RequestEvent,
    RequestEventContent,
    append_action,
    record_action,
    verify_audit,
)
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor, Status
from tests.store.conftest import RECEIVED_AT, MakeRequest
from tests.waiting import WAIT_SECONDS, wait_until_a_lock_is_awaited


@contextmanager
def statements_sent(session: Session) -> Iterator[list[str]]:
    """Collect the SQL the session's engine sends while the block runs."""
    sent: list[str] = []
    engine = session.get_bind()

    def collect(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", collect)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", collect)


def _note(session: Session, request: Any, action: str, reason: str | None = None) -> None:
    record_action(
        db_session=session,
        request=request,
        actor=Actor.SYSTEM,
        action=action,
        at=RECEIVED_AT,
        reason=reason,
        details={"rows": 1},
    )


def _logged(session: Session) -> list[tuple[int, str, str | None]]:
    events = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()
    return [(e.sequence, e.action, e.reason) for e in events]


def test_appends_in_one_transaction_make_a_log_that_verifies(
    session: Session, make_request: MakeRequest, engine_kind: str
) -> None:
    request = make_request()
    session.flush()
    with statements_sent(session) as sent:
        _note(session, request, "first")
        _note(session, request, "second", reason="Mme Dupont a rappelé.")
        _note(session, request, "third")
    session.commit()

    assert _logged(session) == [
        (1, "first", None),
        (2, "second", "Mme Dupont a rappelé."),
        (3, "third", None),
    ]
    assert session.get(RequestEventContent, 2) is not None
    assert verify_audit(db_session=session).ok
    if engine_kind == "postgresql":  # one statement per event: the head locked, moved, linked
        assert len(sent) == 3
        assert all(statement.lstrip().startswith("WITH") for statement in sent)
        assert all("FOR UPDATE" in statement for statement in sent)
    else:  # the head read, moved, the event written (and its content), per event
        assert len(sent) == 3 * 3 + 1


def test_an_action_appended_without_its_event_is_stored_as_a_recorded_one(
    session: Session, make_request: MakeRequest
) -> None:
    """`append_action` writes what `record_action` writes; only the returned event is not built."""
    request = make_request()
    session.flush()
    event: dict[str, Any] = {
        "request": request,
        "actor": Actor.REQUESTER,
        "action": "submitted",
        "at": RECEIVED_AT,
        "to_status": Status.RECEIVED,
        "details": {"type": "access", "parts": ["DSR-1", "DSR-2"]},
    }
    recorded = record_action(db_session=session, **event)
    append_action(db_session=session, **event)  # the same event, appended
    session.commit()
    session.expunge_all()

    first, second = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()
    assert (first.sequence, first.hash) == (recorded.sequence, recorded.hash)
    assert second.previous_hash == first.hash
    for name in ("request_id", "actor_kind", "actor_label", "action", "to_status", "at", "facts"):
        assert getattr(second, name) == getattr(first, name)
    assert second.details == first.details
    assert verify_audit(db_session=session).ok


def test_an_append_undone_by_a_savepoint_leaves_the_next_linked_to_the_head(
    session: Session, make_request: MakeRequest
) -> None:
    request = make_request()
    session.flush()
    _note(session, request, "kept")
    savepoint = session.begin_nested()
    _note(session, request, "undone", reason="Rolled back with its savepoint.")
    savepoint.rollback()
    _note(session, request, "after")
    session.commit()

    assert _logged(session) == [(1, "kept", None), (2, "after", None)]
    assert verify_audit(db_session=session).ok


def test_the_next_transaction_reads_the_head_again(
    session: Session, make_request: MakeRequest, engine_kind: str
) -> None:
    request = make_request()
    session.flush()
    _note(session, request, "first")
    session.commit()
    with statements_sent(session) as sent:
        _note(session, request, "second")
    session.commit()

    assert _logged(session) == [(1, "first", None), (2, "second", None)]
    assert verify_audit(db_session=session).ok
    assert "FOR UPDATE" in sent[0] or engine_kind == "sqlite"


@pytest.mark.databases("postgresql")
def test_an_append_that_waited_for_the_head_links_to_the_event_written_meanwhile(
    session: Session, make_request: MakeRequest
) -> None:
    """PostgreSQL: an append blocked on the head by another transaction's append is linked, once
    that one commits, to the event it wrote (not to the head as it was when the statement began)."""
    request = make_request()
    session.commit()
    engine = session.get_bind()
    problems: list[BaseException] = []

    def append_later() -> None:
        try:
            with db.open_session(engine) as other:
                blocked = other.get(DataRequest, request.id)
                _note(other, blocked, "second")
                other.commit()
        except BaseException as problem:  # reported by the test, not lost in the thread
            problems.append(problem)

    _note(session, request, "first")  # holds the head until the commit below
    waiter = threading.Thread(target=append_later)
    waiter.start()
    wait_until_a_lock_is_awaited(engine, "the second append waiting for the head")
    session.commit()
    waiter.join(timeout=WAIT_SECONDS)

    assert problems == []
    assert _logged(session) == [(1, "first", None), (2, "second", None)]
    first, second = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()
    assert second.previous_hash == first.hash
    assert verify_audit(db_session=session).ok
