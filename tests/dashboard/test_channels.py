"""Requests received by email, letter, phone or in person (R44): staff record them with the
moment of receipt (the deadline counts from it), the received file is kept sealed, the identity
is proven by the form's verification email or by the check staff record; a request answered by
post is completed on the day staff record it posted (R47), and the figures and the register
count that day; bad input is refused (400) and stores nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.dashboard.figures import answered_requests
from dsr.datamap import organisation_zone
from dsr.documents import service as documents
from dsr.documents.models import DocumentKind, RequestDocument
from dsr.execution.runner import RequestNotRunnable, run_request
from dsr.outbox.models import OutboxMessage
from dsr.requests import channels
from dsr.requests.deadlines import deadline_for
from dsr.requests.models import AnswerChannel, Channel, DataRequest
from dsr.requests.register import OnTime, Period, request_register
from dsr.requests.service import mail_requester
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, RequestType, Status
from dsr.sealing import SecretBox
from tests.dashboard.conftest import LINKS
from tests.dashboard.conftest import logged_in as logged_in_any_language
from tests.execution.conftest import run_settings
from tests.factories import RECEIVED_AT, make_request, reloaded
from tests.pages import csrf_token

RECORD = "/dashboard/record-request"
LETTER = "Madame, Monsieur, je vous prie de désactiver mon compte. Zoé Lefèvre\n"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ADDRESS = "Zoé Lefèvre, 12 rue des Lilas, 69003 Lyon"
METHOD_IN_PERSON = "in person, identity card seen"
METHOD_PHONE = "phone, answered the security questions of the account"
BOX = SecretBox("a-test-secret-key-for-documents", documents.DOCUMENT_PURPOSE)


def logged_in(app: Flask, email: str, role: StaffRole = StaffRole.DPO) -> FlaskClient:
    """A staff member who reads the dashboard in English."""
    client = logged_in_any_language(app, email, role)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def record(client: FlaskClient, **given: Any) -> tuple[int, str]:
    """Post the form of a request received by another channel (a letter by default)."""
    fields: dict[str, Any] = {
        "csrf_token": csrf_token(client.get(RECORD)),
        "channel": "letter",
        "request_type": "deactivation",
        "language": "fr",
        "contact": ADDRESS,
        "message": LETTER,
        "proof": "checked",
        "identity_method": METHOD_IN_PERSON,
    }
    fields.update({name: value for name, value in given.items() if value is not None})
    for name in [name for name, value in given.items() if value is None]:
        fields.pop(name, None)
    answer = client.post(RECORD, data=fields, content_type="multipart/form-data")
    return answer.status_code, answer.get_data(as_text=True)


def stored(app: Flask) -> list[DataRequest]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(DataRequest).order_by(col(DataRequest.id))).all())


def events(app: Flask, request_id: int | None) -> list[RequestEvent]:
    with db.open_session(db.get_engine(app)) as session:
        return list(
            session.exec(
                select(RequestEvent)
                .where(RequestEvent.request_id == request_id)
                .order_by(col(RequestEvent.sequence))
            ).all()
        )


def emails(app: Flask) -> list[OutboxMessage]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(OutboxMessage)).all())


def test_a_letter_received_ten_days_ago_is_due_a_month_from_its_receipt(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    received = (datetime.now(UTC) - timedelta(days=10)).replace(second=0, microsecond=0)

    code, _ = record(
        dpo, received_at=local(received, zone), file=(BytesIO(LETTER.encode()), "lettre.txt")
    )

    assert code == 303
    [request] = stored(app)
    assert request.received_at == received
    assert request.due_at == deadline_for(received, zone=zone)
    assert request.due_at < deadline_for(datetime.now(UTC), zone=zone)
    assert request.created_via is Channel.LETTER
    assert request.answer_channel is AnswerChannel.POST  # no address: the answer is posted
    assert request.contact_details == ADDRESS and request.message == LETTER.strip()
    assert request.requester_email == "" and request.status is Status.VERIFIED
    [submitted, verified] = [e for e in events(app, request.id) if e.action != "document_added"]
    assert submitted.action == "submitted" and submitted.actor_label == "dpo@example.org"
    assert submitted.details is not None and submitted.details["channel"] == "letter"
    assert verified.action == Action.VERIFY_EMAIL.value and verified.reason == METHOD_IN_PERSON
    assert emails(app) == []  # no address: nothing queued, not even the status link
    page = dpo.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    assert "Letter" in page and "By post" in page and "12 rue des Lilas" in page
    queue = dpo.get("/dashboard/").get_data(as_text=True)
    assert request.reference in queue and "(Letter)" in queue


def test_a_call_without_an_address_is_verified_by_the_check_staff_record(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)

    code, _ = record(
        dpo,
        channel="phone",
        received_at=local(datetime.now(UTC) - timedelta(hours=2), zone),
        contact="+33 6 12 34 56 78",
        message="Wants the account deactivated.",
        identity_method=METHOD_PHONE,
    )

    assert code == 303
    [request] = stored(app)
    assert request.created_via is Channel.PHONE and request.status is Status.VERIFIED
    assert request.verified_at is not None
    verified = [e for e in events(app, request.id) if e.action == Action.VERIFY_EMAIL.value]
    assert [e.reason for e in verified] == [METHOD_PHONE]
    assert emails(app) == []


def test_an_email_received_is_proven_by_the_forms_verification_link(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)

    code, _ = record(
        dpo,
        channel="email",
        request_type="access",
        language="en",
        email="zoe@example.org",
        contact=None,
        proof="link",
        identity_method=None,
        received_at=local(datetime.now(UTC) - timedelta(days=1), zone),
        file=(BytesIO(b"From: zoe@example.org\n\nPlease send me my data.\n"), "mail.txt"),
    )

    assert code == 303
    [request] = stored(app)
    assert request.status is Status.RECEIVED and request.verified_at is None
    assert request.created_via is Channel.EMAIL
    assert request.answer_channel is AnswerChannel.EMAIL  # it came electronically
    [sent] = emails(app)
    assert sent.to_address == "zoe@example.org" and sent.request_id == request.id
    assert sent.dedup_key is not None and sent.dedup_key.startswith("verification:")
    assert "https://" in sent.text_body and "/verify/" in sent.text_body


def test_a_letter_with_an_address_asking_for_post_is_answered_by_post(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)

    code, _ = record(
        dpo,
        email="zoe@example.org",
        answer_by_post="y",
        received_at=local(datetime.now(UTC) - timedelta(days=3), zone),
    )

    assert code == 303
    [request] = stored(app)
    assert request.answer_channel is AnswerChannel.POST and request.status is Status.VERIFIED
    # The status link still goes by email; the answer itself does not (below).
    assert [m.to_address for m in emails(app)] == ["zoe@example.org"]
    with db.transaction(db.get_engine(app)) as session:
        found = session.get(DataRequest, request.id)
        assert found is not None
        mail_requester(
            session,
            found,
            "change_done",
            dedup_key="answer",
            now=datetime.now(UTC),
            answers=True,
            description="Your account is deactivated.",
        )
    assert len(emails(app)) == 1


def _ready_to_send(engine: Engine, reference: str, at: datetime) -> None:
    """Carry the request out at `at`, as staff and a worker would (its answer is then ready)."""
    with db.transaction(engine) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()
        for action, actor in (
            (Action.START_REVIEW, Actor.STAFF),
            (Action.APPROVE, Actor.STAFF),
            (Action.START_PROCESSING, Actor.SYSTEM),
            (Action.FINISH_PROCESSING, Actor.SYSTEM),
        ):
            change_status(
                db_session=session,
                request=request,
                action=action,
                actor=actor,
                actor_label="dpo" if actor is Actor.STAFF else None,
                at=at,
            )


def test_the_answer_posted_completes_the_request_on_the_day_it_was_posted(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    engine = db.get_engine(app)
    zone = organisation_zone(app.config)
    now = datetime.now(UTC)
    received = now - timedelta(days=10)
    assert record(dpo, received_at=local(received, zone))[0] == 303
    [request] = stored(app)
    _ready_to_send(engine, request.reference, now - timedelta(days=5))
    page_url = f"/dashboard/requests/{request.reference}"
    page = dpo.get(page_url).get_data(as_text=True)
    assert "Record the answer posted" in page
    today = now.astimezone(zone).date()

    def post(posted_on: date | str) -> tuple[int, str]:
        [current] = stored(app)
        answer = dpo.post(
            f"{page_url}/answer-posted",
            data={
                "csrf_token": csrf_token(dpo.get(page_url)),
                "version_id": str(current.version_id),
                "posted_on": str(posted_on),
            },
        )
        return answer.status_code, answer.get_data(as_text=True)

    code, html = post(today + timedelta(days=1))
    assert code == 400 and "cannot be in the future" in html
    code, html = post(today - timedelta(days=6))
    assert code == 400 and "before it was ready to send" in html
    assert post("")[0] == 400
    [unchanged] = stored(app)
    assert unchanged.status is Status.READY_TO_SEND and unchanged.answered_at is None

    posted_on = today - timedelta(days=1)
    assert post(posted_on)[0] == 303

    [answered] = stored(app)
    assert answered.status is Status.COMPLETED
    assert answered.answered_at is not None
    assert answered.answered_at.astimezone(zone).date() == posted_on
    [posted] = [e for e in events(app, answered.id) if e.action == Action.ANSWER_POSTED.value]
    assert posted.actor_label == "dpo@example.org" and posted.to_status == Status.COMPLETED
    assert emails(app) == []
    with db.open_session(engine) as session:
        register = request_register(
            db_session=session,
            period=Period.checked(received.astimezone(zone).date(), today, zone),
            now=now,
        )
        [row] = register.rows
        assert row.answered_at == answered.answered_at and row.on_time is OnTime.YES
        assert row.days_taken == 9 and row.channel == "letter"
        counted = answered_requests(
            db_session=session, since=now - timedelta(days=30), until=now + timedelta(days=1)
        )
        assert [one.answered_at for one in counted] == [answered.answered_at]


def test_an_answer_by_email_cannot_be_recorded_as_posted(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    record(
        dpo,
        email="zoe@example.org",
        received_at=local(datetime.now(UTC) - timedelta(days=2), zone),
    )
    [request] = stored(app)
    _ready_to_send(db.get_engine(app), request.reference, datetime.now(UTC))
    page_url = f"/dashboard/requests/{request.reference}"
    assert "Record the answer posted" not in dpo.get(page_url).get_data(as_text=True)
    [current] = stored(app)

    answer = dpo.post(
        f"{page_url}/answer-posted",
        data={
            "csrf_token": csrf_token(dpo.get(page_url)),
            "version_id": str(current.version_id),
            "posted_on": datetime.now(UTC).astimezone(zone).date().isoformat(),
        },
    )

    assert answer.status_code == 400
    [unchanged] = stored(app)
    assert unchanged.status is Status.READY_TO_SEND
    french = logged_in_any_language(app, "dpo.fr@example.org")  # the desk's default: French
    refused = french.post(
        f"{page_url}/answer-posted",
        data={
            "csrf_token": csrf_token(french.get(page_url)),
            "version_id": str(current.version_id),
            "posted_on": datetime.now(UTC).astimezone(zone).date().isoformat(),
        },
    ).get_data(as_text=True)
    assert "Cette demande reçoit sa réponse par courriel" in refused
    assert "answered by email" not in refused


def test_the_file_received_is_kept_for_staff_and_not_for_auditors(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    zone = organisation_zone(app.config)
    assert auditor.get(RECORD).status_code == 403
    assert "Record a request received" not in auditor.get("/dashboard/").get_data(as_text=True)
    assert "Record a request received" in dpo.get("/dashboard/").get_data(as_text=True)

    code, _ = record(
        dpo,
        received_at=local(datetime.now(UTC) - timedelta(days=1), zone),
        file=(BytesIO(PDF), "lettre scannée.pdf"),
    )

    assert code == 303
    [request] = stored(app)
    with db.open_session(db.get_engine(app)) as session:
        [document] = session.exec(select(RequestDocument)).all()
    assert document.kind is DocumentKind.RECEIVED_MESSAGE and document.request_id == request.id
    url = f"/dashboard/requests/{request.reference}/documents/{document.id}"
    assert auditor.get(url).status_code == 403
    opened = dpo.get(url)
    assert opened.status_code == 200 and opened.data == PDF


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"received_at": "in 2 days"}, "cannot be in the future"),
        ({"received_at": "old"}, "its deadline has passed"),
        ({"received_at": ""}, "Give the date and time the request was received."),
        ({"identity_method": None}, "Say how the identity was checked."),
        ({"channel": "email", "proof": "link", "identity_method": None}, "the email came from"),
        ({"contact": None}, "give the postal address for the answer"),
        (
            {"contact": None, "email": "zoe@example.org", "answer_by_post": "y"},
            "give the postal address to post it to",
        ),
        ({"channel": "fax"}, "Choose one of the channels in the list."),
        ({"email": "not an address"}, "Enter a valid email address"),
        ({"request_type": "rectification"}, "Tell us what to correct."),
        ({"file": (BytesIO(b"MZ\x90\x00"), "virus.exe")}, "Send a PDF, a PNG or JPEG image"),
        ({"file": (BytesIO(b""), "vide.pdf")}, "The file is empty."),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    app: Flask, given: dict[str, Any], message: str
) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    now = datetime.now(UTC)
    moments = {"in 2 days": now + timedelta(days=2), "old": now - timedelta(days=40)}
    when = given.get("received_at", local(now - timedelta(days=1), zone))
    given = {**given, "received_at": local(moments[when], zone) if when in moments else when}

    code, html = record(dpo, **given)

    assert code == 400
    assert message.replace("'", "&#39;") in html
    assert stored(app) == []
    with db.open_session(db.get_engine(app)) as session:
        assert session.exec(select(func.count()).select_from(RequestDocument)).one() == 0
        assert session.exec(select(func.count()).select_from(RequestEvent)).one() == 0
    assert emails(app) == []


def test_the_page_is_in_french(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    dpo.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    page = dpo.get(RECORD).get_data(as_text=True)
    assert "Courrier" in page and "Appel téléphonique" in page


# --- the store, on every engine -----------------------------------------------------------------


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_request_received_by_letter_is_stored_and_answered_by_post(session: Session) -> None:
    zone = ZoneInfo("Europe/Paris")
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    received_at = datetime(2026, 11, 24, 15, 30, tzinfo=zone)
    received = channels.ReceivedRequest(
        channel=Channel.LETTER,
        received_at=received_at,
        request_types=[RequestType.DEACTIVATION],
        email=None,
        contact=ADDRESS,
        message=LETTER,
        rectification=None,
        language="fr",
        answer_by_post=False,
        identity_method=METHOD_IN_PERSON,
        received_file=channels.ReceivedFile("lettre.pdf", PDF),
    )

    [request] = channels.record_received_request(
        db_session=session,
        received=received,
        staff_label="dpo@example.org",
        now=now,
        zone=zone,
        links=LINKS,
        box=BOX,
        max_bytes=1024 * 1024,
    )
    session.commit()
    session.expire_all()

    found = session.get(DataRequest, request.id)
    assert found is not None
    assert found.created_via is Channel.LETTER and found.answer_channel is AnswerChannel.POST
    assert found.received_at == received_at and found.contact_details == ADDRESS
    assert found.due_at == deadline_for(received_at, zone=zone)
    assert found.status is Status.VERIFIED and found.api_client_id is None
    [document] = documents.documents_of(session, found)
    assert document.kind is DocumentKind.RECEIVED_MESSAGE
    ready = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for action, actor in (
        (Action.START_REVIEW, Actor.STAFF),
        (Action.APPROVE, Actor.STAFF),
        (Action.START_PROCESSING, Actor.SYSTEM),
        (Action.FINISH_PROCESSING, Actor.SYSTEM),
    ):
        change_status(
            db_session=session,
            request=found,
            action=action,
            actor=actor,
            actor_label="dpo" if actor is Actor.STAFF else None,
            at=ready,
        )
    with pytest.raises(channels.ChannelRefused):
        channels.record_answer_posted(
            db_session=session,
            request=found,
            version_id=found.version_id,
            posted_on=date(2026, 11, 30),
            staff_label="dpo@example.org",
            now=now,
        )

    channels.record_answer_posted(
        db_session=session,
        request=found,
        version_id=found.version_id,
        posted_on=date(2026, 12, 3),
        staff_label="dpo@example.org",
        now=now,
    )
    session.commit()
    session.expire_all()

    answered = session.get(DataRequest, request.id)
    assert answered is not None and answered.status is Status.COMPLETED
    assert answered.answered_at == datetime(2026, 12, 3, 22, 59, 59, 999999, tzinfo=UTC)


def test_a_request_without_an_address_is_not_run_by_a_worker(store: Engine, tmp_path: Path) -> None:
    """The map finds a person by their address: without one, nothing is collected or erased
    for someone else (an empty address), and staff carry the request out by hand."""
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.APPROVED,
            email="",
            request_type=RequestType.ACCESS,
            created_via=Channel.LETTER,
            answer_channel=AnswerChannel.POST,
        )
    assert request.id is not None
    settings = run_settings(tmp_path / "reports", "sqlite://")

    with pytest.raises(RequestNotRunnable, match="no email address"):
        run_request(
            engine=store,
            request_id=request.id,
            settings=settings,
            now=RECEIVED_AT + timedelta(days=3),
        )

    assert reloaded(store, request.id).status is Status.APPROVED


def test_a_letter_asking_for_several_things_files_one_request_each_verified_together(
    app: Flask,
) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    received = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)

    code, _ = record(
        dpo,
        received_at=local(received, zone),
        request_type="access",
        also_types=["erasure"],
        email="zoe.lefevre@example.org",
    )

    assert code == 303
    access, erasure = stored(app)
    assert (access.type, erasure.type) == (RequestType.ACCESS, RequestType.ERASURE)
    assert access.group_id == erasure.group_id == access.id
    assert access.received_at == erasure.received_at == received
    assert access.due_at == erasure.due_at == deadline_for(received, zone=zone)
    assert access.status is erasure.status is Status.VERIFIED
    for part in (access, erasure):
        [verified] = [e for e in events(app, part.id) if e.action == Action.VERIFY_EMAIL.value]
        assert verified.reason == METHOD_IN_PERSON
    assert len(emails(app)) == 1  # one status link for the submission


def test_a_type_asked_for_twice_is_refused_and_stores_nothing(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)

    code, html = record(
        dpo,
        received_at=local(datetime.now(UTC) - timedelta(days=1), zone),
        request_type="access",
        also_types=["access"],
    )

    assert code == 400
    assert "Each request is asked for once." in html
    assert stored(app) == []
