"""The one door of a status change and the one lookup by reference, on SQLite: the state is stored
and its event recorded together, a refusal writes nothing, and a reference is found however
people type it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from dsr import db, store_models
from dsr.audit.models import RequestEvent, verify_audit
from dsr.languages import Language
from dsr.requests.models import DataRequest
from dsr.requests.status import change_status, get_by_reference, normalize_reference
from dsr.requests.workflow import (
    Action,
    Actor,
    AuditFact,
    RequestState,
    RequestType,
    Status,
    WorkflowError,
)

NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
REFERENCE = "DSR-2026-000042"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite store built from the models."""
    store_models.import_models()
    engine = db.make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def add_request(engine: Engine, status: Status = Status.RECEIVED) -> int:
    state = RequestState.new(NOW, zone=PARIS)
    with db.transaction(engine) as session:
        request = DataRequest(
            reference=REFERENCE,
            type=RequestType.ACCESS,
            requester_email="zoe.lefevre@example.org",
            normalized_email="zoe.lefevre@example.org",
            language=Language.FR,
            status=status,
            received_at=state.received_at,
            due_at=state.due_at,
            time_zone=PARIS.key,
            verification_nonce="a-nonce",
        )
        session.add(request)
        session.flush()
        assert request.id is not None
        return request.id


def events(session: Session) -> list[RequestEvent]:
    return list(session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all())


@pytest.mark.parametrize(
    "typed",
    [REFERENCE, REFERENCE.lower(), f"  {REFERENCE}\n", "\tdsr-2026-000042 ", "Dsr-2026-000042"],
)
def test_a_reference_is_found_however_it_is_typed(store: Engine, typed: str) -> None:
    request_id = add_request(store)
    assert normalize_reference(typed) == REFERENCE
    with db.open_session(store) as session:
        found = get_by_reference(session, typed)
        assert found is not None and found.id == request_id


@pytest.mark.parametrize("typed", ["", "DSR-2026-000043", "DSR 2026 000042", "DSR-2026-42"])
def test_another_reference_finds_nothing(store: Engine, typed: str) -> None:
    add_request(store)
    with db.open_session(store) as session:
        assert get_by_reference(session, typed) is None


def test_a_change_stores_the_state_and_records_its_event_together(store: Engine) -> None:
    request_id = add_request(store, Status.IN_REVIEW)
    later = NOW + timedelta(days=3)
    seen: list[AuditFact] = []
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        fact = change_status(
            db_session=session,
            request=request,
            action=Action.ASK_REQUESTER,
            actor=Actor.STAFF,
            at=later,
            reason="  Which account?  ",
            actor_label="dpo@example.org",
            details={"asked_for": "account"},
            also=seen.append,
        )
    assert seen == [fact]
    assert (fact.from_status, fact.to_status, fact.reason) == (
        Status.IN_REVIEW,
        Status.AWAITING_REQUESTER,
        "Which account?",
    )
    with db.open_session(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        assert (request.status, request.paused_since) == (Status.AWAITING_REQUESTER, later)
        (event,) = events(session)
        assert (event.request_id, event.action, event.actor_kind, event.actor_label) == (
            request_id,
            Action.ASK_REQUESTER.value,
            Actor.STAFF,
            "dpo@example.org",
        )
        assert (event.from_status, event.to_status, event.at) == (
            Status.IN_REVIEW,
            Status.AWAITING_REQUESTER,
            later,
        )
        assert (event.reason, event.details) == ("Which account?", {"asked_for": "account"})
        assert verify_audit(db_session=session).ok


def test_an_extension_records_its_months_and_ground(store: Engine) -> None:
    request_id = add_request(store, Status.IN_REVIEW)
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        before = request.due_at
        change_status(
            db_session=session,
            request=request,
            action=Action.EXTEND,
            actor=Actor.STAFF,
            at=NOW + timedelta(days=1),
            reason="Many systems",
            months=2,
            ground="complexity",
            actor_label="dpo@example.org",
        )
        assert (request.extension_months, request.extension_reason) == (2, "Many systems")
        assert request.extension_ground == "complexity"
        assert request.due_at > before
    with db.open_session(store) as session:
        (event,) = events(session)
        assert event.details == {"months": 2, "ground": "complexity"}


def _unchanged(store: Engine, request_id: int) -> None:
    with db.open_session(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        assert (request.status, request.verification_nonce, request.version_id) == (
            Status.RECEIVED,
            "a-nonce",
            1,
        )
        assert events(session) == []


def test_a_refused_step_writes_nothing(store: Engine) -> None:
    request_id = add_request(store)
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        with pytest.raises(WorkflowError):
            change_status(
                db_session=session,
                request=request,
                action=Action.APPROVE,
                actor=Actor.STAFF,
                at=NOW + timedelta(days=1),
                actor_label="dpo@example.org",
                also=lambda _fact: pytest.fail("a refused step makes no other change"),
            )
        assert request.status is Status.RECEIVED
        assert not session.dirty
    _unchanged(store, request_id)


def test_what_also_refuses_leaves_the_request_as_it_was(store: Engine) -> None:
    request_id = add_request(store)

    def refuse(_fact: AuditFact) -> None:
        raise ValueError("too long")

    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        with pytest.raises(ValueError, match="too long"):
            change_status(
                db_session=session,
                request=request,
                action=Action.CANCEL,
                actor=Actor.REQUESTER,
                at=NOW + timedelta(hours=1),
                also=refuse,
            )
        assert request.status is Status.RECEIVED
        assert not session.dirty
    _unchanged(store, request_id)
