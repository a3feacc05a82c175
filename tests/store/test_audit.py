"""The stored audit log: each workflow step writes a chained event in its own transaction, and
`verify_audit` (and `dsr audit verify`) finds the first event that was tampered with."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from dsr import db, store_models
from dsr.audit.chain import GENESIS, Tampering
from dsr.audit.models import AuditHead, RequestEvent, record_action, record_event, verify_audit
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, Actor, Status, apply
from dsr.store_cli import audit_group
from tests.store.conftest import RECEIVED_AT, MakeRequest
from tests.waiting import WAIT_SECONDS

STEPS = [
    (Action.VERIFY_EMAIL, Actor.REQUESTER, None),
    (Action.START_REVIEW, Actor.STAFF, None),
    (Action.ASK_REQUESTER, Actor.STAFF, None),
    (Action.REQUESTER_ANSWERED, Actor.REQUESTER, None),
    (Action.DENY, Actor.STAFF, "Manifestly excessive: the fourth identical request this month."),
]


def _take(
    session: Session,
    request: DataRequest,
    action: Action,
    actor: Actor,
    step: int,
    reason: str | None = None,
) -> RequestEvent:
    transition = apply(
        request.state, action, actor=actor, at=RECEIVED_AT + timedelta(hours=step), reason=reason
    )
    request.store_state(transition.state)
    label = "dpo@example.org" if actor is Actor.STAFF else None
    return record_event(
        db_session=session, request=request, fact=transition.fact, actor_label=label
    )


def _walk(session: Session, request: DataRequest) -> list[RequestEvent]:
    events = []
    for step, (action, actor, reason) in enumerate(STEPS, start=1):
        events.append(_take(session, request, action, actor, step, reason))
    session.commit()
    return events


def test_each_step_appends_an_event_linked_to_the_one_before(
    session: Session, make_request: MakeRequest
) -> None:
    events = _walk(session, make_request())

    assert [event.sequence for event in events] == [1, 2, 3, 4, 5]
    assert events[0].previous_hash == GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after.previous_hash == before.hash
    assert events[-1].to_status is Status.DENIED
    assert events[-1].actor_label == "dpo@example.org"
    head = session.get(AuditHead, 1)
    assert head is not None and (head.last_sequence, head.last_hash) == (5, events[-1].hash)

    report = verify_audit(db_session=session)
    assert report.ok and report.events_checked == 5


def test_the_status_change_and_its_event_commit_together(
    session: Session, make_request: MakeRequest
) -> None:
    request = make_request()
    session.commit()
    _take(session, request, Action.VERIFY_EMAIL, Actor.REQUESTER, 1)
    session.rollback()

    assert session.exec(select(RequestEvent)).all() == []
    assert session.get(DataRequest, request.id).status is Status.RECEIVED  # type: ignore[union-attr]
    assert verify_audit(db_session=session).events_checked == 0


def test_an_edited_event_is_found(session: Session, make_request: MakeRequest) -> None:
    _walk(session, make_request())
    session.execute(
        text("UPDATE dsr_request_event_content SET reason = 'No reason.' WHERE sequence = 5")
    )
    session.execute(text("UPDATE dsr_request_event SET actor_label = 'someone' WHERE sequence = 3"))
    session.commit()

    report = verify_audit(db_session=session)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (3, Tampering.EDITED)
    assert report.events_checked == 2


def test_an_event_removed_from_the_end_is_found(
    session: Session, make_request: MakeRequest
) -> None:
    _walk(session, make_request())
    session.execute(text("DELETE FROM dsr_request_event_content WHERE sequence = 5"))
    session.execute(text("DELETE FROM dsr_request_event WHERE sequence = 5"))
    session.commit()

    report = verify_audit(db_session=session)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (5, Tampering.REMOVED)


def test_a_staff_event_names_the_staff_member(session: Session) -> None:
    with pytest.raises(ValueError, match="names the staff member"):
        record_action(db_session=session, actor=Actor.STAFF, action="export", at=RECEIVED_AT)


def test_the_command_says_whether_the_trail_is_intact(
    migrated_url: str, session: Session, make_request: MakeRequest
) -> None:
    _walk(session, make_request())
    runner = CliRunner()
    intact = runner.invoke(audit_group, ["verify", "--database-url", migrated_url])
    assert (intact.exit_code, intact.output) == (0, "Audit trail intact: 5 events.\n")

    session.execute(text("UPDATE dsr_request_event SET action = 'approve' WHERE sequence = 4"))
    session.commit()
    broken = runner.invoke(audit_group, ["verify", "--database-url", migrated_url])
    assert broken.exit_code == 1
    assert "Event #4 was edited" in broken.output


def test_concurrent_appends_never_fork_the_chain(
    store: Engine, session: Session, make_request: MakeRequest
) -> None:
    requests = [make_request() for _ in range(4)]
    session.commit()
    ids = [request.id for request in requests]
    start = threading.Barrier(len(ids))
    problems: list[BaseException] = []

    def walk(request_id: int | None) -> None:
        try:
            start.wait(timeout=WAIT_SECONDS)
            with db.open_session(store) as own:
                request = own.get(DataRequest, request_id)
                assert request is not None
                _walk(own, request)
        except BaseException as problem:  # reported by the test, not lost in the thread
            problems.append(problem)

    threads = [threading.Thread(target=walk, args=(request_id,)) for request_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert problems == []
    report = verify_audit(db_session=session)
    assert report.ok and report.events_checked == len(ids) * len(STEPS)


def test_details_and_text_hash_the_same_once_stored(
    session: Session, make_request: MakeRequest
) -> None:
    request = make_request()
    record_action(
        db_session=session,
        request=request,
        actor=Actor.SYSTEM,
        action="erasure_applied",
        at=RECEIVED_AT + timedelta(microseconds=1),
        reason="Effacement demandé — « tout » <script>",
        details={"rows": {"contact": 1, "billing": 0}, "kept": ["invoices"], "dry_run": False},
    )
    session.commit()
    session.expunge_all()

    stored = session.exec(select(RequestEvent)).one()
    assert stored.details == {
        "rows": {"contact": 1, "billing": 0},
        "kept": ["invoices"],
        "dry_run": False,
    }
    assert verify_audit(db_session=session).ok


@pytest.mark.databases("sqlite")
def test_a_store_made_without_migrations_has_its_audit_head(engine_url: str) -> None:
    store_models.import_models()
    engine = db.make_engine(engine_url)
    SQLModel.metadata.create_all(engine)
    with db.transaction(engine) as session:
        record_action(db_session=session, actor=Actor.SYSTEM, action="started", at=RECEIVED_AT)
    with db.open_session(engine) as session:
        assert verify_audit(db_session=session).events_checked == 1
