"""The requester's side of a request on real databases, with the emails read from a real SMTP
server on loopback: file, receive the link, click, follow; reuse, resend, cancel, answer; and links
that are expired, used twice or tampered with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent, record_event, verify_audit
from dsr.dates import written_date
from dsr.languages import Language
from dsr.outbox.emails import render_email
from dsr.outbox.models import OutboxMessage
from dsr.outbox.service import DeliveryReport, deliver_due
from dsr.outbox.smtp import SmtpSettings
from dsr.requests.checks import RequestError
from dsr.requests.emails import EmailKind, type_phrase
from dsr.requests.links import LinkExpired, LinkInvalid, LinkSigner, LinkUsed
from dsr.requests.models import DataRequest
from dsr.requests.service import (
    SubmitResult,
    answer_request,
    cancel_request,
    request_for_status_token,
    resend_verification,
    submit_request,
    verify_request,
)
from dsr.requests.workflow import Action, Actor, RequestType, Status, WorkflowError, apply
from dsr.sender import Sender
from tests.exports.conftest import assert_golden
from tests.smtp_server import ReceivedMail, SmtpServer

NOW = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
EMAIL = "Zoe.Lefevre@Example.org"
SECRET = "a-test-secret-key"
VERIFY_LINK = re.compile(r"https://desk\.example/verify/([A-Za-z0-9_\-.]+)")
STATUS_LINK = re.compile(r"https://desk\.example/status/([A-Za-z0-9_\-]+)")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(smtp: SmtpServer) -> SmtpSettings:
    return SmtpSettings(host=smtp.host, port=smtp.port, timeout=30, sender="dpo@example.org")


def signer(secret: str = SECRET) -> LinkSigner:
    return LinkSigner(
        secret,
        verify_url=lambda token: f"https://desk.example/verify/{token}",
        status_url=lambda token: f"https://desk.example/status/{token}",
    )


LINKS = signer()


def submit(
    engine: Engine,
    *,
    email: str = EMAIL,
    request_type: RequestType = RequestType.ACCESS,
    language: str = "fr",
    message: str | None = None,
    rectification: str | None = None,
    now: datetime = NOW,
) -> SubmitResult:
    with db.transaction(engine) as session:
        return submit_request(
            db_session=session,
            email=email,
            request_type=request_type,
            language=language,
            message=message,
            rectification=rectification,
            now=now,
            zone=PARIS,
            links=LINKS,
        )


def verify(engine: Engine, token: str, now: datetime = NOW + timedelta(hours=1)) -> str:
    """Click the link; return the status token."""
    with db.transaction(engine) as session:
        _, status_token = verify_request(db_session=session, token=token, now=now, links=LINKS)
        return status_token


def deliver(engine: Engine, settings: SmtpSettings, now: datetime = NOW) -> DeliveryReport:
    return deliver_due(engine_or_session_factory=engine, settings=settings, now=now)


def mails_after_delivery(
    engine: Engine, settings: SmtpSettings, smtp: SmtpServer, count: int, now: datetime = NOW
) -> list[ReceivedMail]:
    """Deliver what is due and return every mail received so far (at least `count`)."""
    deliver(engine, settings, now + timedelta(hours=2))
    return smtp.wait_for(count)


def verify_token_in(mail: ReceivedMail) -> str:
    found = VERIFY_LINK.findall(mail.text)
    assert len(set(found)) == 1, mail.text
    assert mail.html is not None and f"https://desk.example/verify/{found[0]}" in mail.html
    return str(found[0])


def status_token_in(mail: ReceivedMail) -> str:
    found = STATUS_LINK.findall(mail.text)
    assert len(set(found)) == 1, mail.text
    return str(found[0])


def reloaded(engine: Engine, request_id: int | None) -> DataRequest:
    with db.open_session(engine) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        return request


def counts(engine: Engine) -> tuple[int, int, int]:
    """Requests, queued emails and audit events in the store."""
    with db.open_session(engine) as session:
        return (
            session.exec(select(func.count()).select_from(DataRequest)).one(),
            session.exec(select(func.count()).select_from(OutboxMessage)).one(),
            session.exec(select(func.count()).select_from(RequestEvent)).one(),
        )


def actions(engine: Engine) -> list[str]:
    with db.open_session(engine) as session:
        return list(
            session.exec(select(RequestEvent.action).order_by(col(RequestEvent.sequence))).all()
        )


# --- the whole path -----------------------------------------------------------------------------


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_file_receive_the_link_verify_and_follow(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    result = submit(store, message="Merci de m'envoyer mes données.")
    assert not result.reused
    request = result.request
    assert (request.status, request.normalized_email) == (
        Status.RECEIVED,
        "zoe.lefevre@example.org",
    )
    assert request.reference == "DSR-2026-000001"

    [mail] = mails_after_delivery(store, settings, smtp, 1)
    assert mail.envelope_recipients == (EMAIL,)
    assert mail.message["Subject"] == ("Confirmez votre adresse pour votre demande DSR-2026-000001")
    assert mail.message["Content-Language"] == "fr"
    assert "accès à vos données" in mail.text
    assert "Merci de m'envoyer mes données." in mail.text
    token = verify_token_in(mail)
    # No personal data in the URL: the token holds the request's number and a random nonce.
    assert "@" not in token and EMAIL.lower() not in token.lower()
    request_id, nonce = URLSafeTimedSerializer(SECRET, salt="dsr-verify").loads(token)
    assert (request_id, len(nonce)) == (request.id, 32)

    status_token = verify(store, token)

    verified = reloaded(store, request.id)
    assert verified.status is Status.VERIFIED
    assert verified.verified_at == NOW + timedelta(hours=1)
    assert verified.verification_nonce is None
    _, second = mails_after_delivery(store, settings, smtp, 2)
    assert second.message["Subject"] == "Votre demande DSR-2026-000001 est enregistrée"
    assert "28 février 2026" in second.text  # 31 January + 1 month, shown in Paris
    assert status_token_in(second) == status_token
    with db.open_session(store) as session:
        found = request_for_status_token(db_session=session, token=status_token)
        assert found is not None and found.id == request.id
        assert request_for_status_token(db_session=session, token=status_token[:-2]) is None
        assert request_for_status_token(db_session=session, token="") is None
        assert verify_audit(db_session=session).ok
    assert actions(store) == ["submitted", "verify_email"]


def test_emails_speak_the_requesters_language(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    submit(store, language="en", request_type=RequestType.ERASURE)

    [mail] = mails_after_delivery(store, settings, smtp, 1)
    assert mail.message["Subject"] == "Confirm your email address for your request DSR-2026-000001"
    assert mail.message["Content-Language"] == "en"
    assert "erasure of your data" in mail.text
    assert "expires in 48 hours" in mail.text
    assert mail.html is not None and '<html lang="en">' in mail.html

    verify(store, verify_token_in(mail))
    _, second = mails_after_delivery(store, settings, smtp, 2)
    assert "We will answer by 28 February 2026 at the latest." in second.text


def test_the_requesters_html_is_shown_escaped_in_the_html_email(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    message = '<script>alert("x")</script> <b>bold</b> & <a href="https://evil.example">me</a>'
    submit(
        store,
        request_type=RequestType.RECTIFICATION,
        message=message,
        rectification="<img src=x onerror=alert(1)> Lefèvre, not Lefevre",
    )

    [mail] = mails_after_delivery(store, settings, smtp, 1)
    assert mail.html is not None
    assert "<script>" not in mail.html and "<b>" not in mail.html and "<img" not in mail.html
    assert 'evil.example">' not in mail.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in mail.html
    assert "&amp; &lt;a href=" in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt; Lefèvre, not Lefevre" in mail.html
    assert message in mail.text  # the text part is plain text: shown as typed


# --- reuse, resend ------------------------------------------------------------------------------


@pytest.mark.databases("sqlite", "postgresql")
def test_an_identical_open_request_is_reused_and_only_the_newest_link_works(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    first = submit(store)
    again = submit(store, email="  ZOE.LEFEVRE@example.ORG ", now=NOW + timedelta(minutes=5))

    assert again.reused
    assert again.request.id == first.request.id
    assert again.request.requester_email == EMAIL  # the request is carried on as it was
    old_mail, new_mail = mails_after_delivery(store, settings, smtp, 2)
    assert "Vous avez déjà une demande en cours" in new_mail.text
    assert "Vous avez déjà une demande en cours" not in old_mail.text

    with pytest.raises(LinkExpired, match="replaced by a newer one"):
        verify(store, verify_token_in(old_mail))
    verify(store, verify_token_in(new_mail))
    assert reloaded(store, first.request.id).status is Status.VERIFIED
    assert actions(store) == ["submitted", "resubmitted", "verify_email"]

    other = submit(store, request_type=RequestType.ERASURE)
    assert not other.reused and other.request.id != first.request.id


def test_a_verified_request_filed_again_gets_a_new_status_link(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    first = submit(store)
    [mail] = mails_after_delivery(store, settings, smtp, 1)
    old_status_token = verify(store, verify_token_in(mail))

    again = submit(store, now=NOW + timedelta(days=2))

    assert again.reused and again.request.status is Status.VERIFIED
    *_, last = mails_after_delivery(store, settings, smtp, 3, now=NOW + timedelta(days=2))
    assert "Vous avez déjà une demande d'accès à vos données en cours" in last.text
    new_status_token = status_token_in(last)
    with db.open_session(store) as session:
        assert request_for_status_token(db_session=session, token=old_status_token) is None
        found = request_for_status_token(db_session=session, token=new_status_token)
        assert found is not None and found.id == first.request.id


def test_a_closed_request_is_not_reused(store: Engine) -> None:
    first = submit(store)
    with db.transaction(store) as session:
        request = session.get(DataRequest, first.request.id)
        assert request is not None
        cancel_request(db_session=session, request=request, now=NOW + timedelta(minutes=1))

    again = submit(store, now=NOW + timedelta(minutes=2))
    assert not again.reused
    assert again.request.reference == "DSR-2026-000002"


def test_a_new_link_can_be_asked_for_and_replaces_the_old_one(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    first = submit(store)
    second = submit(store, request_type=RequestType.OBJECTION)
    with db.transaction(store) as session:
        resend_verification(
            db_session=session,
            email="zoe.lefevre@EXAMPLE.org",
            now=NOW + timedelta(days=3),
            links=LINKS,
        )

    mails = mails_after_delivery(store, settings, smtp, 4, now=NOW + timedelta(days=3))
    assert len(mails) == 4
    old_access, _, new_access, new_objection = mails
    assert "demande d'opposition à la prospection commerciale" in new_objection.text
    later = NOW + timedelta(days=3, hours=1)
    with pytest.raises(LinkExpired):
        verify(store, verify_token_in(old_access), later)  # replaced, and too old anyway
    verify(store, verify_token_in(new_access), later)
    verify(store, verify_token_in(new_objection), later)
    assert reloaded(store, first.request.id).status is Status.VERIFIED
    assert reloaded(store, second.request.id).status is Status.VERIFIED


def test_asking_for_a_link_for_an_unknown_address_does_nothing(store: Engine) -> None:
    submit(store)
    before = counts(store)
    with db.transaction(store) as session:
        for email in ("someone.else@example.org", "not an address", ""):
            resend_verification(db_session=session, email=email, now=NOW, links=LINKS)
    assert counts(store) == before


def test_a_verified_request_gets_a_new_status_link_not_a_verification_link(
    store: Engine,
) -> None:
    result = submit(store)
    with db.open_session(store) as session:
        token = str(session.exec(select(OutboxMessage.text_body)).one())
    verify(store, VERIFY_LINK.findall(token)[0])
    requests, emails, events = counts(store)
    with db.transaction(store) as session:
        resend_verification(db_session=session, email=EMAIL, now=NOW, links=LINKS)
    assert counts(store) == (requests, emails + 1, events + 1)
    assert actions(store)[-1] == "status_link_renewed"
    with db.open_session(store) as session:
        last = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id).desc())).first()
    assert last is not None
    assert "/status/" in last.text_body and "/verify/" not in last.text_body
    assert reloaded(store, result.request.id).status is Status.VERIFIED


# --- links that do not work ---------------------------------------------------------------------


def _first_link(store: Engine) -> str:
    with db.open_session(store) as session:
        text = session.exec(select(OutboxMessage.text_body).order_by(col(OutboxMessage.id))).first()
    assert text is not None
    return str(VERIFY_LINK.findall(text)[0])


@pytest.mark.databases("sqlite", "postgresql")
def test_an_expired_link_is_refused_and_changes_nothing(store: Engine) -> None:
    result = submit(store)
    token = _first_link(store)
    before = counts(store), reloaded(store, result.request.id).verification_nonce

    with pytest.raises(LinkExpired) as raised:
        verify(store, token, NOW + timedelta(hours=48, seconds=1))

    assert "expired" in raised.value.message
    assert (counts(store), reloaded(store, result.request.id).verification_nonce) == before
    assert reloaded(store, result.request.id).status is Status.RECEIVED
    verify(store, token, NOW + timedelta(hours=47, minutes=59))  # still valid until then


def test_the_link_lifetime_is_configurable(store: Engine) -> None:
    submit(store)
    token = _first_link(store)
    short = LinkSigner(SECRET, max_age=timedelta(hours=1), verify_url=str, status_url=str)
    with db.transaction(store) as session, pytest.raises(LinkExpired):
        verify_request(db_session=session, token=token, now=NOW + timedelta(hours=2), links=short)


@pytest.mark.databases("sqlite", "postgresql")
def test_a_link_works_once(store: Engine, settings: SmtpSettings, smtp: SmtpServer) -> None:
    result = submit(store)
    token = _first_link(store)
    verify(store, token)
    before = counts(store)

    with pytest.raises(LinkUsed) as raised:
        verify(store, token, NOW + timedelta(hours=2))

    assert "already been used" in raised.value.message
    assert counts(store) == before
    assert reloaded(store, result.request.id).status is Status.VERIFIED


@pytest.mark.databases("sqlite", "postgresql")
def test_a_tampered_link_is_refused_and_changes_nothing(store: Engine) -> None:
    result = submit(store)
    token = _first_link(store)
    before = counts(store)
    # Not the last character: its low bits are base64 padding, so some changes decode the same.
    inside = token[-5]
    tampered = [
        token[:-5] + ("A" if inside != "A" else "B") + token[-4:],  # the signature
        ("x" if token[0] != "x" else "y") + token[1:],  # the payload
        token[: len(token) // 2],
        "",
        "not-a-token",
        "é" * 40,
        "a" * 10_000,
        signer("another-secret").verification_token(
            request_id=result.request.id or 0, nonce="n", now=NOW
        ),
        URLSafeTimedSerializer(SECRET, salt="dsr-verify").dumps({"request": 1}),
        URLSafeTimedSerializer(SECRET, salt="dsr-verify").dumps([True, "n"]),
        URLSafeTimedSerializer(SECRET, salt="another-salt").dumps([result.request.id, "n"]),
        LINKS.verification_token(request_id=999_999, nonce="n", now=NOW),
    ]
    for bad in tampered:
        with pytest.raises(LinkInvalid):
            verify(store, bad)
    assert counts(store) == before
    assert reloaded(store, result.request.id).status is Status.RECEIVED
    verify(store, token)


def test_a_link_of_a_cancelled_request_is_refused(store: Engine) -> None:
    result = submit(store)
    token = _first_link(store)
    with db.transaction(store) as session:
        request = session.get(DataRequest, result.request.id)
        assert request is not None
        cancel_request(db_session=session, request=request, now=NOW)

    with pytest.raises(LinkInvalid, match="cancelled"):
        verify(store, token)


# --- cancel and answer --------------------------------------------------------------------------


def test_the_requester_can_cancel_before_processing(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    result = submit(store, language="en")
    verify(store, _first_link(store))
    with db.transaction(store) as session:
        request = session.get(DataRequest, result.request.id)
        assert request is not None
        cancel_request(db_session=session, request=request, now=NOW + timedelta(days=1))

    assert reloaded(store, result.request.id).status is Status.CANCELLED
    *_, mail = mails_after_delivery(store, settings, smtp, 3, now=NOW + timedelta(days=1))
    assert mail.message["Subject"] == "Your request DSR-2026-000001 is cancelled"
    assert "cancelled on 1 February 2026" in mail.text
    assert actions(store) == ["submitted", "verify_email", "cancel"]

    with db.transaction(store) as session:
        request = session.get(DataRequest, result.request.id)
        assert request is not None
        with pytest.raises(WorkflowError, match="cannot be cancelled"):
            cancel_request(db_session=session, request=request, now=NOW + timedelta(days=2))


def _staff_step(store: Engine, request_id: int | None, action: Action, at: datetime) -> None:
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        transition = apply(request.state, action, actor=Actor.STAFF, at=at)
        request.store_state(transition.state)
        record_event(db_session=session, request=request, fact=transition.fact, actor_label="dpo")


def test_a_request_being_processed_cannot_be_cancelled(store: Engine) -> None:
    result = submit(store)
    verify(store, _first_link(store))
    for action in (Action.START_REVIEW, Action.APPROVE, Action.START_PROCESSING):
        _staff_step(store, result.request.id, action, NOW + timedelta(days=1))

    with db.transaction(store) as session:
        request = session.get(DataRequest, result.request.id)
        assert request is not None
        with pytest.raises(WorkflowError, match="being processed cannot be cancelled"):
            cancel_request(db_session=session, request=request, now=NOW + timedelta(days=2))
    assert reloaded(store, result.request.id).status is Status.PROCESSING


def test_the_requesters_answer_resumes_the_clock(store: Engine) -> None:
    result = submit(store, message="First message.")
    verify(store, _first_link(store))
    _staff_step(store, result.request.id, Action.ASK_REQUESTER, NOW + timedelta(days=2))

    with db.transaction(store) as session:
        request = session.get(DataRequest, result.request.id)
        assert request is not None
        with pytest.raises(RequestError, match="Write your answer"):
            answer_request(db_session=session, request=request, message="  ", now=NOW)
        answer_request(
            db_session=session,
            request=request,
            message="  My learner number is 1234.  ",
            now=NOW + timedelta(days=5),
        )

    answered = reloaded(store, result.request.id)
    assert answered.status is Status.IN_REVIEW
    assert answered.paused_total == timedelta(days=3)
    # 28 February + 3 days, due by the end of that day in Paris
    assert answered.due_at == datetime(2026, 3, 3, 22, 59, 59, 999999, tzinfo=UTC)
    assert answered.message == (
        "First message.\n\n--- Answer of 2026-02-05 09:00 UTC ---\nMy learner number is 1234."
    )
    with db.transaction(store) as session:
        request = session.get(DataRequest, result.request.id)
        assert request is not None
        with pytest.raises(WorkflowError):
            answer_request(db_session=session, request=request, message="Again", now=NOW)
    assert actions(store)[-1] == "requester_answered"


def test_an_overlong_answer_is_refused(store: Engine) -> None:
    result = submit(store, message="x" * 4990)
    verify(store, _first_link(store))
    _staff_step(store, result.request.id, Action.ASK_REQUESTER, NOW + timedelta(days=1))

    with db.transaction(store) as session:
        request = session.get(DataRequest, result.request.id)
        assert request is not None
        with pytest.raises(RequestError, match="too long"):
            answer_request(
                db_session=session, request=request, message="y" * 100, now=NOW + timedelta(2)
            )
    assert reloaded(store, result.request.id).status is Status.AWAITING_REQUESTER


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"email": "not an address"}, "valid email address"),
        ({"email": "zoe@localhost"}, "valid email address"),
        ({"email": "zoe@example.org\r\nBcc: x@example.org"}, "valid email address"),
        ({"email": "a" * 250 + "@example.org"}, "valid email address"),
        ({"request_type": "everything"}, "Choose what you ask for"),
        ({"language": "de"}, "French or English"),
        ({"request_type": RequestType.RECTIFICATION}, "what should be corrected"),
        ({"rectification": "my name"}, "Only a rectification request"),
        ({"message": "x" * 5001}, "too long"),
    ],
)
@pytest.mark.databases("sqlite")
def test_bad_input_is_refused_and_nothing_is_stored(
    store: Engine, fields: dict[str, object], says: str
) -> None:
    with pytest.raises(RequestError, match=says):
        submit(store, **fields)  # type: ignore[arg-type]
    assert counts(store) == (0, 0, 0)


# --- restart ------------------------------------------------------------------------------------


@pytest.mark.databases("sqlite", "postgresql")
def test_a_restart_between_submission_and_delivery_loses_no_mail(
    engine_url: str, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    db.run_migrations(engine_url)
    before_restart = db.make_engine(engine_url)
    submit(before_restart)
    before_restart.dispose()
    assert smtp.messages == []

    after_restart = db.make_engine(engine_url)
    try:
        [mail] = mails_after_delivery(after_restart, settings, smtp, 1)
        verify(after_restart, verify_token_in(mail))
        [_, status_mail] = mails_after_delivery(after_restart, settings, smtp, 2)
        assert STATUS_LINK.search(status_mail.text)
    finally:
        after_restart.dispose()


@pytest.mark.databases("postgresql", "mariadb")
def test_a_concurrent_second_click_is_a_used_link(store: Engine) -> None:
    result = submit(store)
    token = _first_link(store)
    with db.open_session(store) as first, db.open_session(store) as second:
        seen_by_second = second.get(DataRequest, result.request.id)  # read before the first click
        assert seen_by_second is not None and seen_by_second.status is Status.RECEIVED
        verify_request(db_session=first, token=token, now=NOW, links=LINKS)
        first.commit()
        with pytest.raises(LinkUsed):
            verify_request(db_session=second, token=token, now=NOW, links=LINKS)
        second.rollback()
    assert reloaded(store, result.request.id).status is Status.VERIFIED


def test_language_is_stored(store: Engine) -> None:
    assert submit(store, language="en").request.language is Language.EN


# --- the emails themselves (no database) --------------------------------------------------------


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_email_renders_in_every_language(kind: EmailKind, language: Language) -> None:
    email = render_email(
        kind,
        language,
        reference="DSR-2026-000042",
        type_label=type_phrase(RequestType.PORTABILITY, language),
        received_on=written_date(NOW, language, PARIS),
        cancelled_on=written_date(NOW, language, PARIS),
        due_on=written_date(NOW, language, PARIS),
        address_kept_until=written_date(NOW, language, PARIS),
        verify_url="https://desk.example/verify/t",
        status_url="https://desk.example/status/t",
        valid_hours=48,
        message="<i>hi</i>",
        rectification=None,
        reused=False,
        already_verified=False,
        renewed=False,
        still_open=True,
        months=2,
        ground="complexity",
        reason="<b>three</b> systems",
        designee_name="<b>Paul</b>",
        designee_email="paul@example.org",
        categories=["Contact"],
    )
    assert "DSR-2026-000042" in email.subject
    assert "DSR-2026-000042" in email.text
    assert type_phrase(RequestType.PORTABILITY, language) in email.text
    assert "{{" not in email.text and "{%" not in email.html
    assert email.html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language.value}">' in email.html
    assert "<i>hi</i>" not in email.html


def test_dates_are_shown_in_paris() -> None:
    late_evening = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)  # already 1 March in Paris
    assert written_date(late_evening, Language.FR, PARIS) == "1 mars 2026"
    assert written_date(late_evening, Language.EN, PARIS) == "1 March 2026"
    assert written_date(late_evening, Language.EN, ZoneInfo("America/New_York")) == (
        "28 February 2026"
    )


def test_a_signer_needs_a_key_and_a_positive_lifetime() -> None:
    with pytest.raises(ValueError, match="secret key"):
        LinkSigner("", verify_url=str, status_url=str)
    with pytest.raises(ValueError, match="positive"):
        LinkSigner(SECRET, max_age=timedelta(0), verify_url=str, status_url=str)


GOLDEN_SENDER = Sender(
    organisation="Dupont & Fils <SAS>",
    dpo="Camille Petit",
    dpo_email="dpo@dupont.example",
    dpo_address=None,
    website="https://dupont.example",
)
"""Who signs the golden emails: markup in the organisation's name shows as text in the HTML."""


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(EmailKind))
def test_emails_match_their_golden_files(kind: EmailKind, language: Language) -> None:
    email = render_email(
        kind,
        language,
        reference="DSR-2026-000042",
        type_label=type_phrase(RequestType.RECTIFICATION, language),
        received_on=written_date(NOW, language, PARIS),
        cancelled_on=written_date(NOW + timedelta(days=3), language, PARIS),
        due_on=written_date(NOW + timedelta(days=28), language, PARIS),
        address_kept_until=written_date(NOW + timedelta(days=1826), language, PARIS),
        verify_url="https://desk.example/verify/TOKEN",
        status_url="https://desk.example/status/TOKEN",
        valid_hours=48,
        message='Please fix my name <b>"Lefèvre"</b>.',
        rectification="Lefèvre, not Lefevre",
        reused=False,
        already_verified=False,
        months=2,
        ground="complexity",
        reason="Your data is spread over 3 systems & a paper archive <to search by hand>.",
        recipients_told=[
            {"name": "CCI Paris Île-de-France", "told_on": written_date(NOW, language, PARIS)},
            {"name": "Hosting & Co <hosting>", "told_on": written_date(NOW, language, PARIS)},
        ],
        last_told_on=written_date(NOW, language, PARIS),
        renewed=False,
        still_open=True,
        sender=GOLDEN_SENDER,
        designee_name="Paul Lefèvre <paul>",
        designee_email="paul@example.org",
        categories=["Contact details", "Invoices & payments"],
    )
    assert_golden(
        f"email_{kind.value}_{language.value}.txt",
        f"Subject: {email.subject}\n\n--- text ---\n{email.text}\n--- html ---\n{email.html}",
    )
