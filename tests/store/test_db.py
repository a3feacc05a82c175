"""Work queued to run after a commit: it runs once the data is safe, and never after a rollback."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import Session

from dsr import db
from dsr.accounts.access import public_endpoint
from dsr.app import create_app
from dsr.requests.models import ReferenceCounter


@pytest.mark.databases("sqlite", "postgresql")
def test_it_runs_after_commit_only(session: Session) -> None:
    ran: list[str] = []
    db.after_commit(session, lambda: ran.append("rolled back"))
    session.rollback()
    db.after_commit(session, lambda: ran.append("committed"))
    session.commit()
    session.commit()
    assert ran == ["committed"]


@pytest.mark.databases("sqlite")
def test_a_failing_task_does_not_undo_the_commit(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> None:
        raise ConnectionRefusedError("smtp://zoe.lefevre@example.org refused")

    session.add(ReferenceCounter(year=2030, last_number=7))
    db.after_commit(session, fail)
    with caplog.at_level(logging.ERROR, logger="dsr.db"):
        session.commit()
    session.expunge_all()
    assert session.get(ReferenceCounter, 2030) is not None
    assert "ConnectionRefusedError" in caplog.text
    assert "zoe" not in caplog.text


@pytest.mark.databases("sqlite")
def test_a_view_can_act_once_its_request_is_committed(migrated_url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": migrated_url, "WTF_CSRF_ENABLED": False})
    delivered: list[int] = []

    @app.post("/file/<int:status>")
    @public_endpoint  # a test route: the staff guard is not under test
    def file(status: int) -> tuple[str, int]:
        db.after_commit(db.get_session(), lambda: delivered.append(status))
        return "", status

    client = app.test_client()
    client.post("/file/303")
    client.post("/file/400")
    assert delivered == [303]


def _outbox_fields() -> dict[str, object]:
    from datetime import UTC, datetime

    from dsr.languages import Language

    now = datetime(2030, 1, 31, 9, 30, tzinfo=UTC)
    return {
        "message_id": "<one@desk.example.org>",
        "dedup_key": "verification:1:nonce",
        "to_address": "zoe@example.org",
        "subject": "Confirmez",
        "text_body": "Bonjour",
        "html_body": None,
        "language": Language.FR,
        "next_attempt_at": now,
        "created_at": now,
    }


def test_a_new_row_is_the_object_its_constructor_makes() -> None:
    """The same values and defaults, in the same order, the same fields marked as set."""
    from dsr.outbox.models import OutboxMessage

    made = OutboxMessage(**_outbox_fields())
    built = db.new_row(OutboxMessage, **_outbox_fields())
    assert type(built) is OutboxMessage
    assert [(k, v) for k, v in vars(built).items() if k != "_sa_instance_state"] == [
        (k, v) for k, v in vars(made).items() if k != "_sa_instance_state"
    ]
    assert built.model_fields_set == made.model_fields_set
    assert (built.model_extra, built.__pydantic_private__) == (made.model_extra, None)
    assert built.model_dump() == made.model_dump()
    with pytest.raises(TypeError, match="no field colour"):
        db.new_row(OutboxMessage, colour="blue", **_outbox_fields())


@pytest.mark.databases("sqlite", "postgresql")
def test_a_new_row_is_written_and_flushed_like_a_constructed_one(session: Session) -> None:
    from sqlalchemy import inspect

    from dsr.outbox.models import OutboxMessage

    written = db.new_row(OutboxMessage, **_outbox_fields())
    db.insert_as_written(session, written)
    assert inspect(written).persistent
    written.subject = "Confirmez votre adresse"  # a change after the write is flushed
    flushed = db.new_row(OutboxMessage, **{**_outbox_fields(), "dedup_key": "other"})
    flushed.message_id = "<two@desk.example.org>"
    session.add(flushed)  # pending, then written by the unit of work
    session.commit()
    session.expunge_all()
    first = session.get(OutboxMessage, written.id)
    second = session.get(OutboxMessage, flushed.id)
    assert first is not None and second is not None
    assert (first.subject, first.status, first.attempts) == (
        "Confirmez votre adresse",
        "pending",
        0,
    )
    assert (second.message_id, second.dedup_key) == ("<two@desk.example.org>", "other")


@pytest.mark.databases("sqlite", "postgresql")
def test_a_core_statement_sees_what_session_execute_would_have_flushed(session: Session) -> None:
    from sqlalchemy import func, select

    counters = db.table_of(ReferenceCounter)
    count = select(func.count()).select_from(counters).where(counters.c.year >= 2040)
    session.add(ReferenceCounter(year=2040, last_number=1))  # pending: flushed first
    assert db.execute_core(session, count).scalar_one() == session.execute(count).scalar_one()
    assert db.execute_core(session, count).scalar_one() == 1
    with session.no_autoflush:  # and not flushed where session.execute would not flush either
        session.add(ReferenceCounter(year=2041, last_number=1))
        assert db.execute_core(session, count).scalar_one() == 1
        assert session.execute(count).scalar_one() == 1
    assert db.execute_core(session, count).scalar_one() == 2
    session.rollback()
    assert db.execute_core(session, count).scalar_one() == 0
