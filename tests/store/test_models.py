"""The models on each engine: aware UTC times, enforced statuses, idempotency keys, references,
optimistic locking, and the workflow state kept in the columns."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from dsr import db
from dsr.api.models import ApiToken
from dsr.languages import Language
from dsr.outbox.models import OutboxMessage, new_message_id
from dsr.requests.models import Channel, DataRequest, next_reference
from dsr.requests.workflow import Action, Actor, RequestType, Status, apply
from dsr.tokens import token_digest
from tests.store.conftest import RECEIVED_AT, MakeRequest

PARIS_SUMMER = timezone(timedelta(hours=2))


def _reloaded(session: Session, request: DataRequest) -> DataRequest:
    session.commit()
    request_id = request.id
    session.expunge_all()
    again = session.get(DataRequest, request_id)
    assert again is not None
    return again


def test_times_come_back_aware_in_utc_to_the_microsecond(
    session: Session, make_request: MakeRequest
) -> None:
    moment = datetime(2026, 7, 14, 23, 59, 58, 987654, tzinfo=PARIS_SUMMER)
    request = make_request(received_at=moment)

    again = _reloaded(session, request)
    assert again.received_at == moment
    assert again.received_at.tzinfo is UTC
    assert again.received_at.hour == 21
    assert again.received_at.microsecond == 987654
    assert again.verified_at is None


def test_times_compare_in_utc_in_queries(session: Session, make_request: MakeRequest) -> None:
    make_request(received_at=datetime(2026, 3, 1, 0, 30, tzinfo=PARIS_SUMMER))  # 28 Feb 22:30 UTC
    session.commit()
    after = datetime(2026, 2, 28, 22, 0, tzinfo=UTC)
    found = session.exec(select(DataRequest).where(DataRequest.received_at > after)).all()
    assert len(found) == 1


def test_a_naive_time_is_refused(session: Session, make_request: MakeRequest) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        make_request(verified_at=datetime(2026, 2, 1, 12, 0))


def test_an_unknown_status_is_refused_by_the_database(
    session: Session, make_request: MakeRequest
) -> None:
    request = make_request()
    session.commit()
    with pytest.raises(DBAPIError, match="(?i)status|check"):
        session.execute(
            text("UPDATE dsr_request SET status = 'lost' WHERE id = :id"), {"id": request.id}
        )
        session.commit()
    session.rollback()
    assert _reloaded(session, request).status is Status.RECEIVED


def test_the_idempotency_key_is_unique_per_api_client(
    session: Session, make_request: MakeRequest
) -> None:
    platform, _ = ApiToken.issue("learner-platform", now=RECEIVED_AT)
    shop, _ = ApiToken.issue("shop", now=RECEIVED_AT)
    session.add_all([platform, shop])
    session.flush()
    via_api = {"created_via": Channel.API, "idempotency_key": "retry-1"}
    make_request(api_client_id=platform.id, **via_api)
    make_request(api_client_id=shop.id, **via_api)  # another client may use the same key
    make_request()  # web requests have no key
    make_request()
    session.commit()

    with pytest.raises(IntegrityError):
        make_request(api_client_id=platform.id, **via_api)


def test_references_count_per_year(session: Session) -> None:
    first = next_reference(db_session=session, received_at=RECEIVED_AT)
    second = next_reference(db_session=session, received_at=RECEIVED_AT)
    next_year = next_reference(db_session=session, received_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert (first, second, next_year) == ("DSR-2026-000001", "DSR-2026-000002", "DSR-2027-000001")


def test_references_taken_at_once_by_concurrent_transactions_are_distinct(store: Engine) -> None:
    """Eight submissions committing at the same moment get eight different numbers, with none
    skipped: the counter row is bumped and read back in one statement under its lock."""
    start = threading.Barrier(8)

    def take() -> str:
        with db.open_session(store) as other:
            start.wait()
            reference = next_reference(db_session=other, received_at=RECEIVED_AT)
            other.commit()
            return reference

    with ThreadPoolExecutor(8) as pool:
        taken = sorted(pool.map(lambda _n: take(), range(8)))
    assert taken == [f"DSR-2026-{n:06d}" for n in range(1, 9)]


def test_a_stale_copy_cannot_overwrite_a_newer_change(
    session: Session, make_request: MakeRequest
) -> None:
    request = make_request()
    session.commit()
    assert request.version_id == 1
    engine = session.get_bind()
    with db.open_session(engine) as other:  # type: ignore[arg-type]
        stale = other.get(DataRequest, request.id)  # e.g. a page loaded before the change
        assert stale is not None
        other.commit()
        request.store_state(
            apply(request.state, Action.CANCEL, actor=Actor.REQUESTER, at=RECEIVED_AT).state
        )
        session.commit()
        assert request.version_id == 2

        stale.store_state(
            apply(stale.state, Action.EXPIRE, actor=Actor.SYSTEM, at=RECEIVED_AT).state
        )
        with pytest.raises(StaleDataError):
            other.commit()
    session.expunge_all()
    assert _reloaded(session, request).status is Status.CANCELLED


def test_the_workflow_state_survives_the_store(session: Session, make_request: MakeRequest) -> None:
    request = make_request(type=RequestType.ERASURE)
    steps = [
        (Action.VERIFY_EMAIL, Actor.REQUESTER, timedelta(hours=1)),
        (Action.ASK_REQUESTER, Actor.STAFF, timedelta(days=2)),
        (Action.REQUESTER_ANSWERED, Actor.REQUESTER, timedelta(days=5, microseconds=7)),
    ]
    for action, actor, after in steps:
        request.store_state(apply(request.state, action, actor=actor, at=RECEIVED_AT + after).state)
    request.store_state(
        apply(
            request.state,
            Action.EXTEND,
            actor=Actor.STAFF,
            at=RECEIVED_AT + timedelta(days=6),
            reason="Many systems to search.",
            months=2,
            ground="number_of_requests",
        ).state
    )
    expected = request.state

    again = _reloaded(session, request)
    assert again.state == expected
    assert again.status is Status.IN_REVIEW
    assert again.paused_total == timedelta(days=3, microseconds=7)
    # 31 January + 3 months = 30 April, plus the 3 whole days waiting for the requester: due
    # by the end of 3 May in Paris, the calendar the request was received on.
    assert again.time_zone == "Europe/Paris"
    assert again.due_at == datetime(2026, 5, 3, 21, 59, 59, 999999, tzinfo=UTC)


def test_a_status_token_is_kept_only_as_its_digest(
    session: Session, make_request: MakeRequest
) -> None:
    request = make_request()
    token = request.issue_status_token()
    again = _reloaded(session, request)
    assert again.status_token_hash == token_digest(token)
    assert token not in (again.status_token_hash or "")


def test_an_outbox_message_round_trips(session: Session, make_request: MakeRequest) -> None:
    request = make_request(language=Language.EN)
    body = "Hello\n" + "é" * 70_000  # beyond MariaDB's 64 KiB TEXT
    message = OutboxMessage(
        message_id=new_message_id("privacy.example.org"),
        dedup_key=f"verification:{request.id}:1",
        request_id=request.id,
        to_address=request.requester_email,
        subject="Confirm your request",
        text_body=body,
        language=Language.EN,
        next_attempt_at=RECEIVED_AT,
        created_at=RECEIVED_AT,
    )
    session.add(message)
    session.commit()
    session.expunge_all()
    again = session.get(OutboxMessage, message.id)
    assert again is not None
    assert again.text_body == body
    assert again.next_attempt_at == RECEIVED_AT
    assert again.message_id.startswith("<") and again.message_id.endswith("@privacy.example.org>")
