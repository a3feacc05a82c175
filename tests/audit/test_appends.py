"""Appends to the stored chain in one transaction: on PostgreSQL each event (with its content)
is written in one statement together with the head's move, the head read once per transaction;
on every engine, appends in one transaction, around a savepoint rolled back, and in the next
transaction leave a log that verifies, numbered without a gap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, col, select

from dsr.audit.models import RequestEvent, RequestEventContent, record_action, verify_audit
from dsr.requests.workflow import Actor
from tests.store.conftest import RECEIVED_AT, MakeRequest


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
    if engine_kind == "postgresql":  # the head read once, locked; then one statement per event
        assert len(sent) == 4
        assert "FOR UPDATE" in sent[0]
        assert all(statement.lstrip().startswith("WITH") for statement in sent[1:])
    else:  # the head read, moved, the event written (and its content), per event
        assert len(sent) == 3 * 3 + 1


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
