"""One submission asking for several things (issue 19), on real databases with the emails read
from a real SMTP server: one request per type, confirmed by one email, each followed, answered and
counted on its own, and an erasure that waits for the copy of the data asked for with it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.dates import written_date
from dsr.languages import Language
from dsr.outbox.emails import render_email
from dsr.outbox.service import DeliveredEmail, deliver_due
from dsr.outbox.smtp import SmtpSettings
from dsr.requests import staff_actions
from dsr.requests.answers import complete_answered_request
from dsr.requests.checks import RequestError
from dsr.requests.emails import EmailKind, type_phrase
from dsr.requests.groups import parts_of
from dsr.requests.links import LinkExpired
from dsr.requests.models import DataRequest
from dsr.requests.refusals import WaitsForAnotherPart
from dsr.requests.register import Outcome, Period, request_register
from dsr.requests.service import (
    SubmitResult,
    resend_verification,
    submit_request,
    verify_request,
)
from dsr.requests.status import change_status
from dsr.requests.unverified import DELETE_ACTION, DELETED_ADDRESS
from dsr.requests.workflow import Action, Actor, RequestType, Status
from dsr.scheduler.jobs import run_job
from dsr.scheduler.runs import SchedulerSettings
from tests.exports.conftest import assert_golden
from tests.requests.test_service import GOLDEN_SENDER, LINKS, status_token_in, verify_token_in
from tests.smtp_server import ReceivedMail, SmtpServer

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
EMAIL = "zoe.lefevre@example.org"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(smtp: SmtpServer) -> SmtpSettings:
    return SmtpSettings(host=smtp.host, port=smtp.port, timeout=30, sender="dpo@example.org")


def submit(engine: Engine, *types: RequestType | str, **fields: object) -> SubmitResult:
    values: dict[str, object] = {
        "email": EMAIL,
        "language": "en",
        "message": "Send me my data, then erase it.",
        "rectification": None,
        "now": NOW,
        "zone": PARIS,
        "links": LINKS,
        **fields,
    }
    with db.transaction(engine) as session:
        return submit_request(db_session=session, types=list(types), **values)  # type: ignore[arg-type]


def parts(engine: Engine) -> list[DataRequest]:
    with db.open_session(engine) as session:
        return list(session.exec(select(DataRequest).order_by(col(DataRequest.id))).all())


def mails(
    engine: Engine, settings: SmtpSettings, smtp: SmtpServer, count: int
) -> list[ReceivedMail]:
    deliver_due(engine_or_session_factory=engine, settings=settings, now=NOW + timedelta(hours=2))
    return smtp.wait_for(count)


def move(engine: Engine, reference: str, *actions: Action) -> None:
    with db.transaction(engine) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()
        for action in actions:
            change_status(
                db_session=session,
                request=request,
                action=action,
                actor=Actor.STAFF,
                at=NOW + timedelta(days=1),
                actor_label="dpo",
            )


def answer_delivered(engine: Engine, reference: str, at: datetime) -> None:
    with db.transaction(engine) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()
        assert request.id is not None
        complete_answered_request(
            session,
            DeliveredEmail(id=0, request_id=request.id, answers_request_id=request.id, sent_at=at),
        )


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_two_types_make_two_parts_confirmed_by_one_email(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    result = submit(store, RequestType.ERASURE, RequestType.ACCESS)

    access, erasure = parts(store)
    assert (access.type, erasure.type) == (RequestType.ACCESS, RequestType.ERASURE)
    assert result.request.id == access.id and not result.reused
    assert access.reference != erasure.reference
    assert access.group_id == erasure.group_id == access.id
    for part in (access, erasure):
        assert part.status is Status.RECEIVED
        assert part.received_at == NOW and part.due_at == access.due_at
        assert (part.requester_email, part.message) == (EMAIL, "Send me my data, then erase it.")

    [verification] = mails(store, settings, smtp, 1)
    assert access.reference in verification.text and erasure.reference in verification.text
    assert "asks for 2 things" in verification.text
    assert verification.html is not None and erasure.reference in verification.html

    with db.transaction(store) as session:
        verify_request(
            db_session=session,
            token=verify_token_in(verification),
            now=NOW + timedelta(hours=1),
            links=LINKS,
        )
    assert [part.status for part in parts(store)] == [Status.VERIFIED, Status.VERIFIED]
    _, status_mail = mails(store, settings, smtp, 2)
    assert status_token_in(status_mail)
    assert access.reference in status_mail.text and erasure.reference in status_mail.text
    assert len(smtp.messages) == 2  # one email to confirm, one status link: not one per part


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_each_part_completes_on_its_own_and_the_register_counts_both(store: Engine) -> None:
    submit(store, RequestType.ACCESS, RequestType.OBJECTION)
    access, objection = parts(store)
    move(store, access.reference, Action.VERIFY_EMAIL, Action.START_REVIEW, Action.APPROVE)
    move(store, access.reference, Action.START_PROCESSING, Action.FINISH_PROCESSING)
    move(store, objection.reference, Action.VERIFY_EMAIL, Action.START_REVIEW)
    answer_delivered(store, access.reference, NOW + timedelta(days=2))

    access, objection = parts(store)
    assert access.status is Status.COMPLETED
    assert access.answered_at == NOW + timedelta(days=2)
    assert objection.status is Status.IN_REVIEW and objection.answered_at is None

    march = Period.checked(date(2026, 3, 1), date(2026, 3, 31), PARIS)
    with db.open_session(store) as session:
        register = request_register(db_session=session, period=march, now=NOW + timedelta(days=3))
    rows = {row.reference: row for row in register.rows}
    assert set(rows) == {access.reference, objection.reference}
    assert rows[access.reference].outcome is Outcome.ANSWERED
    assert rows[objection.reference].outcome is not Outcome.ANSWERED


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_an_erasure_is_not_approved_before_the_copy_of_the_data_is_produced(
    store: Engine,
) -> None:
    submit(store, RequestType.ACCESS, RequestType.ERASURE)
    access, erasure = parts(store)
    for part in (access, erasure):
        move(store, part.reference, Action.VERIFY_EMAIL, Action.START_REVIEW)
    move(store, access.reference, Action.APPROVE, Action.START_PROCESSING)

    with db.transaction(store) as session, pytest.raises(WaitsForAnotherPart) as refused:
        waiting = session.get(DataRequest, erasure.id)
        assert waiting is not None
        staff_actions.approve(
            db_session=session,
            request=waiting,
            version_id=waiting.version_id,
            staff_label="dpo",
            now=NOW + timedelta(days=1),
        )
    assert access.reference in refused.value.message
    assert "copy of their data" in refused.value.message
    assert parts(store)[1].status is Status.IN_REVIEW

    move(store, access.reference, Action.FINISH_PROCESSING)  # the copy is ready to send
    with db.transaction(store) as session:
        ready = session.get(DataRequest, erasure.id)
        assert ready is not None
        staff_actions.approve(
            db_session=session,
            request=ready,
            version_id=ready.version_id,
            staff_label="dpo",
            now=NOW + timedelta(days=2),
        )
    assert parts(store)[1].status is Status.APPROVED


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_deactivation_alone_or_beside_an_objection_is_not_held_back(store: Engine) -> None:
    submit(store, RequestType.OBJECTION, RequestType.DEACTIVATION)
    objection, deactivation = parts(store)
    move(store, deactivation.reference, Action.VERIFY_EMAIL, Action.START_REVIEW, Action.APPROVE)
    assert parts(store)[-1].status is Status.APPROVED
    assert objection.group_id == deactivation.group_id is not None


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ((), "Choose what you ask for"),
        (("access", "teleportation"), "Choose what you ask for"),
        (("access", "erasure", "access"), "only once"),
    ],
    ids=["no type", "unknown type", "duplicate type"],
)
def test_bad_lists_of_types_are_refused_and_nothing_is_stored(
    store: Engine, types: tuple[str, ...], message: str
) -> None:
    with pytest.raises(RequestError, match=message):
        submit(store, *types)
    assert parts(store) == []


def test_a_rectification_among_the_types_still_says_what_to_correct(store: Engine) -> None:
    with pytest.raises(RequestError, match="corrected"):
        submit(store, RequestType.ACCESS, RequestType.RECTIFICATION)
    submit(store, RequestType.ACCESS, RequestType.RECTIFICATION, rectification="My name is Zoé.")
    access, rectification = parts(store)
    assert access.rectification_details is None
    assert rectification.rectification_details == "My name is Zoé."


def test_a_request_received_earlier_counts_its_deadline_from_its_receipt(store: Engine) -> None:
    received = NOW - timedelta(days=5)
    submit(store, RequestType.ACCESS, RequestType.ERASURE, received_at=received)
    assert {part.received_at for part in parts(store)} == {received}
    assert {part.due_at.astimezone(PARIS).date() for part in parts(store)} == {date(2026, 4, 5)}
    with pytest.raises(RequestError, match="future"):
        submit(store, RequestType.PORTABILITY, received_at=NOW + timedelta(days=1))


def test_asking_again_for_an_open_type_files_only_the_new_one(store: Engine) -> None:
    submit(store, RequestType.ACCESS)
    again = submit(store, RequestType.ACCESS, RequestType.ERASURE)
    assert not again.reused
    access, erasure = parts(store)
    assert erasure.type is RequestType.ERASURE and erasure.group_id is None  # filed alone
    assert {part.id for part in again.parts} == {access.id, erasure.id}
    with db.open_session(store) as session:
        assert session.exec(select(func.count()).select_from(DataRequest)).one() == 2
        lone = session.get(DataRequest, erasure.id)
        assert lone is not None and parts_of(session, lone) == [lone]


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_new_link_for_a_submission_is_one_email_that_confirms_every_part(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    submit(store, RequestType.ACCESS, RequestType.PORTABILITY)
    with db.transaction(store) as session:
        resend_verification(
            db_session=session, email=EMAIL, now=NOW + timedelta(minutes=5), links=LINKS
        )
    first, renewed = mails(store, settings, smtp, 2)
    assert len(smtp.messages) == 2  # the first email and one new one, not one per part
    access, portability = parts(store)
    assert access.reference in renewed.text and portability.reference in renewed.text

    with db.transaction(store) as session, pytest.raises(LinkExpired):
        verify_request(
            db_session=session,
            token=verify_token_in(first),
            now=NOW + timedelta(hours=1),
            links=LINKS,
        )
    with db.transaction(store) as session:
        verify_request(
            db_session=session,
            token=verify_token_in(renewed),
            now=NOW + timedelta(hours=1),
            links=LINKS,
        )
    assert [part.status for part in parts(store)] == [Status.VERIFIED, Status.VERIFIED]


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", [EmailKind.VERIFICATION, EmailKind.STATUS_LINK])
def test_the_emails_of_a_submission_list_its_parts(kind: EmailKind, language: Language) -> None:
    parts = [
        {"reference": "DSR-2026-000042", "type_label": type_phrase(RequestType.ACCESS, language)},
        {"reference": "DSR-2026-000043", "type_label": type_phrase(RequestType.ERASURE, language)},
    ]
    email = render_email(
        kind,
        language,
        reference="DSR-2026-000042",
        type_label=type_phrase(RequestType.ACCESS, language),
        received_on=written_date(NOW, language, PARIS),
        due_on=written_date(NOW + timedelta(days=31), language, PARIS),
        verify_url="https://desk.example/verify/TOKEN",
        status_url="https://desk.example/status/TOKEN",
        valid_hours=48,
        message="Send me my data <b>first</b>, then erase it.",
        rectification=None,
        reused=False,
        already_verified=False,
        renewed=False,
        still_open=True,
        parts=parts,
        sender=GOLDEN_SENDER,
    )
    assert_golden(
        f"email_{kind.value}_parts_{language.value}.txt",
        f"Subject: {email.subject}\n\n--- text ---\n{email.text}\n--- html ---\n{email.html}",
    )


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_the_parts_of_a_submission_never_confirmed_are_each_deleted_in_turn(store: Engine) -> None:
    submit(store, RequestType.ACCESS, RequestType.ERASURE)
    with db.transaction(store) as session:
        for part in session.exec(select(DataRequest)).all():
            change_status(
                db_session=session,
                request=part,
                action=Action.EXPIRE,
                actor=Actor.SYSTEM,
                at=NOW + timedelta(days=2),
            )
    settings = SchedulerSettings(
        secret_key="a secret for the tests only",
        smtp=SmtpSettings(host="127.0.0.1", port=9, timeout=1),
    )

    run = run_job(DELETE_ACTION, engine=store, settings=settings, now=NOW + timedelta(days=60))

    assert (run.items_done, run.errors) == (2, 0)
    access, erasure = parts(store)
    assert access.requester_email == erasure.requester_email == DELETED_ADDRESS
    assert access.group_id == erasure.group_id == access.id  # the stubs still tell the parts
