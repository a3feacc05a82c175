"""What staff do to the status of a request from its page: verify by hand, review, ask,
approve, deny, and extend the deadline (assigning is in `assignment`, notes in `notes`).

Each operation takes the session and flushes, never commits: the view's request boundary commits
once. A status change goes through `change_status`, which writes its audit event in the same
transaction, with the staff member who acted; an email to the requester is queued in the outbox in
that transaction too. Each operation names the `version_id` of the request as the acting person saw
it: if the request changed since (another person acted first), `RequestChanged` (from
`refusals`) is raised and nothing is done, so that no action is ever applied twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from dsr.dates import written_date
from dsr.languages import N_
from dsr.requests.emails import EmailKind
from dsr.requests.groups import answers_awaited, parts_of
from dsr.requests.identity_questions import identity_document_asked
from dsr.requests.links import LinkSigner
from dsr.requests.models import AnswerChannel, DataRequest
from dsr.requests.refusals import (
    OperationRefused,
    RequestChanged,
    WaitsForAnotherPart,
    check_version,
)
from dsr.requests.representation import approval_refusal
from dsr.requests.service import (
    after_verified,
    mail_requester,
    mark_verified,
    renew_status_token,
    send_status_link,
)
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, AuditFact, RequestType, Status

IDENTITY_DOCUMENT = "identity_document"


def _step(
    db_session: Session,
    request: DataRequest,
    action: Action,
    *,
    version_id: int | None,
    staff_label: str,
    now: datetime,
    reason: str | None = None,
    months: int | None = None,
    ground: str | None = None,
    details: dict[str, object] | None = None,
    also: Callable[[AuditFact], None] | None = None,
) -> AuditFact:
    """Take one workflow step as staff (with `also`, the other changes it brings) through
    `change_status`, unless the request changed since the page was shown."""
    check_version(request, version_id)
    try:
        return change_status(
            db_session=db_session,
            request=request,
            action=action,
            actor=Actor.STAFF,
            at=now,
            reason=reason,
            months=months,
            ground=ground,
            actor_label=staff_label,
            details=details,
            also=also,
        )
    except StaleDataError:
        raise RequestChanged() from None


def verify_by_hand(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    reason: str,
    now: datetime,
    links: LinkSigner,
) -> None:
    """Mark the requester's address as verified by staff (e.g. checked by phone), saying how, and
    send the requester the link of their status page, as a verification by link does: for
    every part of the submission still waiting for it (issue 19), with one status link."""
    if not (reason or "").strip():
        raise OperationRefused(N_("Say how the requester's address was checked."))
    _step(
        db_session,
        request,
        Action.VERIFY_EMAIL,
        version_id=version_id,
        staff_label=staff_label,
        now=now,
        reason=reason,
        also=lambda fact: mark_verified(request, fact),
    )
    verified = [request]
    for part in parts_of(db_session, request):
        if part.id != request.id and part.status is Status.RECEIVED:
            _step(
                db_session,
                part,
                Action.VERIFY_EMAIL,
                version_id=part.version_id,
                staff_label=staff_label,
                now=now,
                reason=reason,
                also=partial(mark_verified, part),
            )
            verified.append(part)
    send_status_link(db_session, request, now=now, links=links, already_verified=False)
    for part in verified:
        after_verified(db_session, part, now)
    db_session.flush()


def start_review(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    now: datetime,
) -> None:
    """Put a verified request in review."""
    _step(
        db_session,
        request,
        Action.START_REVIEW,
        version_id=version_id,
        staff_label=staff_label,
        now=now,
    )


def _ask(
    db_session: Session,
    request: DataRequest,
    kind: EmailKind,
    *,
    version_id: int | None,
    staff_label: str,
    text: str,
    now: datetime,
    links: LinkSigner,
    details: dict[str, object] | None,
) -> None:
    """Pause the request for the requester and email them `text` with a fresh status-page link,
    where they answer (the older links stop working)."""
    tokens: list[str] = []
    fact = _step(
        db_session,
        request,
        Action.ASK_REQUESTER,
        version_id=version_id,
        staff_label=staff_label,
        now=now,
        reason=text,
        details=details,
        also=lambda _fact: tokens.append(renew_status_token(db_session, request, now)),
    )
    token = tokens[0]
    mail_requester(
        db_session,
        request,
        kind,
        dedup_key=f"{kind.value}:{request.id}:{fact.at.isoformat()}",
        now=now,
        status_url=links.status_url(token),
        reason=text,
        due_on=written_date(request.state.due_at, request.language, request.zone),
    )
    db_session.flush()


def ask_requester(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    question: str,
    now: datetime,
    links: LinkSigner,
) -> None:
    """Ask the requester for information; the deadline pauses until they answer (R3). A question
    that asks for an identity document is refused: that takes `ask_for_identity_document`, with
    its written reason (R2, Art. 12(6))."""
    question = (question or "").strip()
    if not question:
        raise OperationRefused(N_("Write the question to send to the requester."))
    asked_for = identity_document_asked(question)
    if asked_for is not None:
        raise OperationRefused(
            N_(
                'This question asks for an identity document ("%(phrase)s"). Ask for one with '
                'the "Ask for an identity document" action, which gives the requester the written '
                "reason (Art. 12(6) of the GDPR)."
            ),
            phrase=asked_for,
        )
    _ask(
        db_session,
        request,
        EmailKind.ASKED,
        version_id=version_id,
        staff_label=staff_label,
        text=question,
        now=now,
        links=links,
        details=None,
    )


def ask_for_identity_document(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    reason: str,
    now: datetime,
    links: LinkSigner,
) -> None:
    """Ask the requester for an identity document, only with a written reason (R2: the control
    of the email address is the proportionate check by default); the deadline pauses."""
    reason = (reason or "").strip()
    if not reason:
        raise OperationRefused(
            N_(
                "An identity document can only be asked for with a written reason: the control "
                "of the email address is the usual proof."
            )
        )
    _ask(
        db_session,
        request,
        EmailKind.IDENTITY_REQUESTED,
        version_id=version_id,
        staff_label=staff_label,
        text=reason,
        now=now,
        links=links,
        details={"asked_for": IDENTITY_DOCUMENT},
    )


def resume_review(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    answer: str,
    now: datetime,
) -> None:
    """Record an answer the requester gave another way (phone, letter): the review resumes and
    the clock with it."""
    answer = (answer or "").strip()
    if not answer:
        raise OperationRefused(N_("Write down the answer you received."))
    _step(
        db_session,
        request,
        Action.REQUESTER_ANSWERED,
        version_id=version_id,
        staff_label=staff_label,
        now=now,
        reason=answer,
    )


def approve(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    now: datetime,
) -> None:
    """Approve the request: it can then be carried out; one made for someone else only once
    staff accepted the proof that its requester may act for the person (R45). Raise
    WaitsForAnotherPart for an erasure or deactivation whose submission also asks for a copy of
    the data not yet produced."""
    waiting = approval_refusal(request)
    if waiting is not None:
        raise OperationRefused(waiting)
    awaited = answers_awaited(db_session, request)
    if awaited:
        raise WaitsForAnotherPart(
            N_(
                "this request waits for %(references)s of the same submission: the requester "
                "asked for a copy of their data too, and it must be produced (ready to send or "
                "answered) before their data is erased or their account deactivated."
            ),
            references=", ".join(part.reference for part in awaited),
        )
    _step(
        db_session,
        request,
        Action.APPROVE,
        version_id=version_id,
        staff_label=staff_label,
        now=now,
    )


def deny(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    reason: str,
    now: datetime,
) -> None:
    """Refuse the request and email the requester its reasons with their right to complain to
    the CNIL and to seek a judicial remedy (Art. 12(4), R5); a request answered by post gets
    them by letter instead (`dsr.requests.channels.record_answer_posted` dates it)."""
    fact = _step(
        db_session,
        request,
        Action.DENY,
        version_id=version_id,
        staff_label=staff_label,
        now=now,
        reason=reason,
    )
    mail_requester(
        db_session,
        request,
        EmailKind.DENIED,
        dedup_key=f"denied:{request.id}",
        now=now,
        # answered by post, the refusal is the answer: kept as its letter, never emailed
        answers=request.answer_channel is AnswerChannel.POST,
        reason=fact.reason,
        received_on=written_date(request.received_at, request.language, request.zone),
        compelling_grounds=request.type is RequestType.OBJECTION_LEGITIMATE_INTEREST,
    )
    db_session.flush()


def extend(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    months: int,
    ground: str,
    reason: str,
    now: datetime,
) -> None:
    """Extend the deadline once, by one or two months, on a ground Art. 12(3) allows (an
    `ExtensionGround`), and email the requester the new date with the ground and the reasons
    (R4), unless the request changed since the page was shown.

    Raise WorkflowError when the rules forbid it (no reason, no or another ground, already
    extended, too late, a closed request, more than two months); nothing changes then.
    """
    _step(
        db_session,
        request,
        Action.EXTEND,
        version_id=version_id,
        staff_label=staff_label,
        now=now,
        reason=reason,
        months=months,
        ground=ground,
    )
    assert request.extension_ground is not None  # noqa: S101 (the workflow requires one)
    mail_requester(
        db_session,
        request,
        EmailKind.EXTENDED,
        dedup_key=f"extended:{request.id}",
        now=now,
        months=request.extension_months,
        ground=request.extension_ground.value,
        reason=request.extension_reason,
        due_on=written_date(request.state.due_as_of(now), request.language, request.zone),
    )
    db_session.flush()
