"""Staff operations on real databases: every action in every status (allowed or refused, and then
nothing changes), the emails they send read from a real SMTP server, and two staff members acting
on the same request at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent, verify_audit
from dsr.languages import Language
from dsr.outbox.service import deliver_due
from dsr.outbox.smtp import SmtpSettings
from dsr.requests import assignment, notes, staff_actions
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused, RequestChanged
from dsr.requests.workflow import TRANSITIONS, Action, Status, WorkflowError
from tests.accounts.helpers import make_staff
from tests.dashboard.conftest import LINKS, NOW, counts
from tests.factories import make_request, reloaded
from tests.smtp_server import ReceivedMail, SmtpServer

STAFF = "dpo@example.org"

Operation = Callable[[Session, DataRequest], None]

OPERATIONS: dict[str, tuple[Action, Operation]] = {
    "verify_by_hand": (
        Action.VERIFY_EMAIL,
        lambda s, r: staff_actions.verify_by_hand(
            db_session=s,
            request=r,
            version_id=r.version_id,
            staff_label=STAFF,
            reason="Called the requester back on the number of their account.",
            now=NOW,
            links=LINKS,
        ),
    ),
    "start_review": (
        Action.START_REVIEW,
        lambda s, r: staff_actions.start_review(
            db_session=s, request=r, version_id=r.version_id, staff_label=STAFF, now=NOW
        ),
    ),
    "ask_requester": (
        Action.ASK_REQUESTER,
        lambda s, r: staff_actions.ask_requester(
            db_session=s,
            request=r,
            version_id=r.version_id,
            staff_label=STAFF,
            question="Which of your two accounts do you mean?",
            now=NOW,
            links=LINKS,
        ),
    ),
    "ask_for_identity_document": (
        Action.ASK_REQUESTER,
        lambda s, r: staff_actions.ask_for_identity_document(
            db_session=s,
            request=r,
            version_id=r.version_id,
            staff_label=STAFF,
            reason="The address on the request differs from the one of the account.",
            now=NOW,
            links=LINKS,
        ),
    ),
    "resume_review": (
        Action.REQUESTER_ANSWERED,
        lambda s, r: staff_actions.resume_review(
            db_session=s,
            request=r,
            version_id=r.version_id,
            staff_label=STAFF,
            answer="By phone: the older account.",
            now=NOW,
        ),
    ),
    "approve": (
        Action.APPROVE,
        lambda s, r: staff_actions.approve(
            db_session=s, request=r, version_id=r.version_id, staff_label=STAFF, now=NOW
        ),
    ),
    "deny": (
        Action.DENY,
        lambda s, r: staff_actions.deny(
            db_session=s,
            request=r,
            version_id=r.version_id,
            staff_label=STAFF,
            reason="Manifestly excessive: the same request was answered last week.",
            now=NOW,
        ),
    ),
    "extend": (
        Action.EXTEND,
        lambda s, r: staff_actions.extend(
            db_session=s,
            request=r,
            version_id=r.version_id,
            staff_label=STAFF,
            months=2,
            ground="complexity",
            reason="The request covers ten years of paper archives.",
            now=NOW,
        ),
    ),
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def delivered(engine: Engine, smtp: SmtpServer, count: int) -> list[ReceivedMail]:
    settings = SmtpSettings(host=smtp.host, port=smtp.port, timeout=30, sender="dpo@example.org")
    deliver_due(engine_or_session_factory=engine, settings=settings, now=NOW + timedelta(hours=1))
    return smtp.wait_for(count)


def statuses_of(engine: Engine, request_id: int | None) -> Status:
    return reloaded(engine, request_id).status


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("name", sorted(OPERATIONS))
@pytest.mark.parametrize("status", list(Status), ids=[status.value for status in Status])
def test_every_action_in_every_status(store: Engine, name: str, status: Status) -> None:
    action, operation = OPERATIONS[name]
    request = make_request(store, status=status)
    before = reloaded(store, request.id)
    events_before, mails_before = counts(store, request.id)
    allowed = (status, action) in TRANSITIONS

    with db.open_session(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        try:
            operation(session, loaded)
        except WorkflowError:
            session.rollback()
            assert not allowed, f"{name} refused on a {status.value} request"
        else:
            session.commit()
            assert allowed, f"{name} accepted on a {status.value} request"

    after = reloaded(store, request.id)
    events_after, mails_after = counts(store, request.id)
    if not allowed:
        assert (after.status, after.version_id, after.due_at) == (
            before.status,
            before.version_id,
            before.due_at,
        )
        assert (events_after, mails_after) == (events_before, mails_before)
        return
    assert after.status is TRANSITIONS[(status, action)]
    assert after.version_id > before.version_id
    assert events_after == events_before + 1
    sends_mail = name in {"verify_by_hand", "ask_requester", "ask_for_identity_document", "deny"}
    sends_mail = sends_mail or name == "extend"
    assert mails_after == mails_before + (1 if sends_mail else 0)
    with db.open_session(store) as session:
        event = session.exec(
            select(RequestEvent)
            .where(RequestEvent.request_id == request.id)
            .order_by(col(RequestEvent.sequence).desc())
        ).first()
        assert event is not None
        assert (event.action, event.actor_label) == (action.value, STAFF)
        assert (event.from_status, event.to_status) == (status, after.status)
        assert verify_audit(db_session=session).ok


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("language", list(Language), ids=[language.value for language in Language])
def test_the_refusal_email_gives_the_reasons_and_the_right_to_complain(
    store: Engine, smtp: SmtpServer, language: Language
) -> None:
    request = make_request(store, status=Status.IN_REVIEW, language=language)
    with db.transaction(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        OPERATIONS["deny"][1](session, loaded)

    (mail,) = delivered(store, smtp, 1)
    assert mail.envelope_recipients == ("Zoe.Lefevre@Example.org",)
    assert request.reference in str(mail.message["Subject"])
    for body in (mail.text, mail.html or ""):
        assert "Manifestly excessive: the same request was answered last week." in body
        assert "CNIL" in body
        assert "www.cnil.fr" in body
    if language is Language.FR:
        assert "réclamation" in mail.text
        assert "recours juridictionnel" in mail.text
    else:
        assert "lodge a complaint" in mail.text
        assert "judicial remedy" in mail.text
    assert reloaded(store, request.id).status is Status.DENIED


@pytest.mark.databases("sqlite")
def test_a_refusal_needs_a_reason(store: Engine) -> None:
    request = make_request(store, status=Status.IN_REVIEW)
    with db.open_session(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        with pytest.raises(WorkflowError, match="reason"):
            staff_actions.deny(
                db_session=session,
                request=loaded,
                version_id=loaded.version_id,
                staff_label=STAFF,
                reason="   ",
                now=NOW,
            )
    assert reloaded(store, request.id).status is Status.IN_REVIEW


@pytest.mark.databases("sqlite")
def test_asking_pauses_the_clock_and_emails_the_question_with_a_new_status_link(
    store: Engine, smtp: SmtpServer
) -> None:
    request = make_request(store, status=Status.IN_REVIEW)
    old_token_hash = reloaded(store, request.id).status_token_hash
    with db.transaction(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        OPERATIONS["ask_requester"][1](session, loaded)

    after = reloaded(store, request.id)
    assert after.status is Status.AWAITING_REQUESTER
    assert after.paused_since == NOW
    assert after.status_token_hash not in (None, old_token_hash)
    (mail,) = delivered(store, smtp, 1)
    assert "Which of your two accounts do you mean?" in mail.text
    assert "https://desk.example/status/" in mail.text
    assert "paused" in mail.text


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("reason", ["", "   "])
def test_an_identity_document_is_only_asked_for_with_a_written_reason(
    store: Engine, reason: str
) -> None:
    request = make_request(store, status=Status.VERIFIED)
    with db.open_session(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        with pytest.raises(OperationRefused, match="written reason"):
            staff_actions.ask_for_identity_document(
                db_session=session,
                request=loaded,
                version_id=loaded.version_id,
                staff_label=STAFF,
                reason=reason,
                now=NOW,
                links=LINKS,
            )
    assert reloaded(store, request.id).status is Status.VERIFIED
    assert counts(store, request.id) == (1, 0)


@pytest.mark.databases("sqlite")
def test_the_identity_document_email_says_why(store: Engine, smtp: SmtpServer) -> None:
    request = make_request(store, status=Status.VERIFIED, language=Language.FR)
    with db.transaction(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        OPERATIONS["ask_for_identity_document"][1](session, loaded)
    (mail,) = delivered(store, smtp, 1)
    assert "The address on the request differs from the one of the account." in mail.text
    assert "pièce d'identité" in mail.text
    with db.open_session(store) as session:
        event = session.exec(
            select(RequestEvent).order_by(col(RequestEvent.sequence).desc())
        ).first()
        assert event is not None
        assert event.details == {"asked_for": "identity_document"}


@pytest.mark.databases("sqlite")
def test_an_action_on_a_request_that_changed_since_the_page_was_shown_is_refused(
    store: Engine,
) -> None:
    request = make_request(store, status=Status.IN_REVIEW)
    shown_version = request.version_id
    with db.transaction(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        staff_actions.approve(
            db_session=session,
            request=loaded,
            version_id=shown_version,
            staff_label="first@example.org",
            now=NOW,
        )
    with db.open_session(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        with pytest.raises(RequestChanged):
            staff_actions.deny(
                db_session=session,
                request=loaded,
                version_id=shown_version,
                staff_label="second@example.org",
                reason="Too late",
                now=NOW,
            )
    assert reloaded(store, request.id).status is Status.APPROVED
    assert counts(store, request.id) == (2, 0)


@pytest.mark.databases("postgresql")
def test_two_staff_acting_at_once_the_second_is_refused(store: Engine) -> None:
    """Both load the request in open transactions; the first commits; the second's write finds
    the row changed (its version no longer matches) and nothing of it is kept."""
    request = make_request(store, status=Status.IN_REVIEW)
    first = db.open_session(store)
    second = db.open_session(store)
    try:
        mine = first.get(DataRequest, request.id)
        theirs = second.get(DataRequest, request.id)
        assert mine is not None and theirs is not None
        staff_actions.approve(
            db_session=first,
            request=mine,
            version_id=mine.version_id,
            staff_label="first@example.org",
            now=NOW,
        )
        first.commit()
        with pytest.raises(RequestChanged):
            staff_actions.deny(
                db_session=second,
                request=theirs,
                version_id=theirs.version_id,
                staff_label="second@example.org",
                reason="A refusal that must not happen",
                now=NOW,
            )
        second.rollback()
    finally:
        first.close()
        second.close()
    after = reloaded(store, request.id)
    assert after.status is Status.APPROVED
    assert counts(store, request.id) == (2, 0)
    with db.open_session(store) as session:
        assert verify_audit(db_session=session).ok


@pytest.mark.databases("sqlite")
def test_assign_to_working_staff_only_and_audit_it(store: Engine) -> None:
    with db.transaction(store) as session:
        request = make_request(session, status=Status.VERIFIED)
        dpo = make_staff(session, role=StaffRole.DPO, email="lea@example.org")
        auditor = make_staff(session, role=StaffRole.AUDITOR, email="audit@example.org")
        gone = make_staff(session, role=StaffRole.DPO, email="gone@example.org", active=False)
        ids = (dpo.id, auditor.id, gone.id)
    with db.transaction(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        for refused in ids[1:]:
            with pytest.raises(OperationRefused):
                assignment.assign(
                    db_session=session,
                    request=loaded,
                    version_id=loaded.version_id,
                    staff_label=STAFF,
                    assignee_id=refused,
                    now=NOW,
                )
        assignment.assign(
            db_session=session,
            request=loaded,
            version_id=loaded.version_id,
            staff_label=STAFF,
            assignee_id=ids[0],
            now=NOW,
        )
        assert assignment.assignable_staff(db_session=session) == [(ids[0], "lea@example.org")]
    after = reloaded(store, request.id)
    assert after.assignee_id == ids[0]
    with db.open_session(store) as session:
        event = session.exec(
            select(RequestEvent).order_by(col(RequestEvent.sequence).desc())
        ).first()
        assert event is not None
        assert (event.action, event.details) == ("assigned", {"assignee": "lea@example.org"})


@pytest.mark.databases("sqlite")
def test_a_note_is_internal_and_audited(store: Engine) -> None:
    request = make_request(store, status=Status.COMPLETED)
    with db.transaction(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        with pytest.raises(OperationRefused):
            notes.add_note(db_session=session, request=loaded, staff_label=STAFF, note=" ", now=NOW)
        notes.add_note(
            db_session=session,
            request=loaded,
            staff_label=STAFF,
            note="Phoned the requester.",
            now=NOW,
        )
    assert counts(store, request.id) == (2, 0)
    with db.open_session(store) as session:
        event = session.exec(
            select(RequestEvent).order_by(col(RequestEvent.sequence).desc())
        ).first()
        assert event is not None
        assert (event.action, event.reason, event.actor_label) == (
            "note_added",
            "Phoned the requester.",
            STAFF,
        )
