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
