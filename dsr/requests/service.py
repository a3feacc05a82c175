"""What a requester does to their request: file it, prove their address, follow, cancel, answer.
(An API client files verified requests through dsr.requests.api_filing.)

Functions take the session and flush, never commit: the caller (a view, the API) commits once.
Every status change goes through `change_status`, which writes its audit event in the same
transaction; every email goes through the outbox in that transaction too. Links carry only a
signed opaque token (verification) or a random token (status page): never personal data.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Text, Update, bindparam, func
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from dsr.addresses import normalize_email
from dsr.audit.models import (
    PendingEvent,
    append_action,
    append_pending,
    chained_append,
    pending_event,
    record_action,
)
from dsr.dates import written_date
from dsr.db import execute_core, insert_as_written, keep_as_written, new_row_values, table_of
from dsr.outbox.emails import render_email, render_letter
from dsr.outbox.models import OutboxMessage
from dsr.outbox.service import enqueue, write_queued
from dsr.requests.checks import RequestError, check_email
from dsr.requests.emails import EmailKind, type_phrase
from dsr.requests.groups import checked_parts, parts_of
from dsr.requests.links import TOKEN_MAX, LinkExpired, LinkInvalid, LinkSigner, LinkUsed
from dsr.requests.models import (
    MESSAGE_MAX,
    SUBJECT_NAME_MAX,
    AnswerChannel,
    DataRequest,
    DataRequestCreate,
    ReplacedStatusToken,
    RequesterRole,
    counter_bump,
    next_reference,
    reference_in_sql,
    reference_prefix,
)
from dsr.requests.status import change_status
from dsr.requests.workflow import (
    TERMINAL,
    Action,
    Actor,
    AuditFact,
    RequestType,
    Status,
)
from dsr.tokens import token_digest

# --- filing a request ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForSomeoneElse:
    """Whom a request made by a representative or a parent is for (R45); the proof is kept as
    documents of the request by the caller."""

    role: RequesterRole
    subject_email: str
    subject_name: str


def checked_subject(
    role: RequesterRole | str, subject_email: str, subject_name: str, requester_email: str
) -> ForSomeoneElse:
    """Return the represented person, checked; raise RequestError if invalid."""
    try:
        checked_role = RequesterRole(role)
    except ValueError:
        raise RequestError("Choose one of the roles in the list.") from None
    if checked_role is RequesterRole.SELF:
        raise RequestError("Choose one of the roles in the list.")
    address = normalize_email(check_email(subject_email))
    if address == normalize_email(requester_email):
        raise RequestError("Give the address of the person you act for, not yours.")
    name = (subject_name or "").strip()
    if not name or len(name) > SUBJECT_NAME_MAX:
        raise RequestError("Enter the name of the person.")
    return ForSomeoneElse(role=checked_role, subject_email=address, subject_name=name)


@dataclass(frozen=True)
class SubmitResult:
    request: DataRequest  # the first part: its status link shows every part
    reused: bool  # True when an identical open request was found and carried on, nothing filed
    parts: tuple[DataRequest, ...] = ()  # every request filed or carried on, `request` first


def submit_request(
    *,
    db_session: Session,
    email: str,
    request_type: RequestType | str | None = None,
    types: Sequence[RequestType | str] | None = None,
    language: str,
    message: str | None,
    rectification: str | None,
    now: datetime,
    received_at: datetime | None = None,
    zone: ZoneInfo,
    links: LinkSigner,
    designee_name: str | None = None,
    designee_email: str | None = None,
    for_someone_else: ForSomeoneElse | None = None,
) -> SubmitResult:
    """File a request (status received, audited) or carry on an identical open one, then queue the
    email that proves the address: a fresh single-use link (older links stop working).

    Ask for one type (`request_type`) or several (`types`, e.g. access and erasure): each type is
    a request of its own (its reference, status and answer), the parts of one submission tied by
    `group_id`, received at the same instant with the same address, language and message, and
    confirmed by one email listing them. `received_at` is when the organisation received it (a
    letter recorded later by staff), `now` by default: the deadlines run from it.

    An identical open request (same address and type, not terminal) is reused as it is; if it is
    already verified, the email brings a new status-page link instead; the other types asked for
    are filed. A new request's deadline is counted on the calendar of `zone`, the
    organisation's. With `for_someone_else` (R45) every part is made for the represented person,
    and only an open request for the same person is carried on. Raise RequestError on invalid
    input (no type, an unknown or repeated type).
    """
    checked = checked_parts(
        email=email,
        request_type=request_type,
        types=types,
        language=language,
        message=message,
        rectification=rectification,
        designee_name=designee_name,
        designee_email=designee_email,
    )
    subject = for_someone_else
    received = received_at if received_at is not None else now
    if received > now:
        raise RequestError("A request cannot have been received in the future.")

    # The audit chain's head and the year's reference counter stay locked from the statement
    # that takes them to the commit: every submission waits for the one holding them (issue 17).
    # So the requests are inserted and their email rendered and queued first, under provisional
    # references; the numbers are taken last, written into the rows and the queued email, and
    # the events appended after them: nothing is rendered while the locks are held.
    # One part on PostgreSQL: its id is taken with the look-up of a twin, and one statement
    # writes the request numbered, its email and its event (`_file_in_one_statement`).
    in_one_statement = len(checked) == 1 and db_session.get_bind().dialect.name == "postgresql"
    new_id: int | None = None
    events: list[tuple[DataRequest, str, dict[str, object]]] = []
    carried_on: list[DataRequest] = []
    to_file: list[DataRequestCreate] = []
    for wanted in checked:
        existing, new_id = _open_request_like(
            db_session, wanted.type, wanted.requester_email, subject, new_id=in_one_statement
        )
        if existing is None:
            to_file.append(wanted)
            continue
        events.append((existing, "resubmitted", {"type": wanted.type.value}))
        if existing.status is Status.RECEIVED:
            _send_verification(db_session, existing, now=now, links=links, reused=True)
        else:
            send_status_link(db_session, existing, now=now, links=links, already_verified=True)
        carried_on.append(existing)

    if not to_file:
        _record_requester_events(db_session, events, now)
        db_session.flush()
        return SubmitResult(request=carried_on[0], reused=True, parts=tuple(carried_on))

    nonce = new_nonce()  # the verification link's, written with the rows (no UPDATE for it)
    filed: list[DataRequest] = []
    for wanted in to_file:
        request = DataRequest.received(
            wanted, reference=_provisional_reference(), now=received, zone=zone
        )
        request.verification_nonce = nonce
        if subject is not None:  # R45
            request.requester_role = subject.role
            request.subject_email = subject.subject_email
            request.subject_name = subject.subject_name
        if new_id is not None:
            request.id = new_id  # written by `_file_in_one_statement`
        else:
            insert_as_written(db_session, request)  # no flush: one INSERT
        filed.append(request)
    if len(filed) > 1:
        for part in filed:
            part.group_id = filed[0].id
        db_session.flush()
    queued = _send_verification(
        db_session, filed[0], now=now, links=links, reused=False, nonce=nonce
    )
    if new_id is not None:
        _file_in_one_statement(db_session, filed[0], queued, received=received, now=now)
        return SubmitResult(request=filed[0], reused=False, parts=tuple(filed))
    numbered: dict[str, str] = {}
    with db_session.no_autoflush:  # the email is written once, with the numbers in it
        for request in filed:  # the counter stays locked from here to the commit
            numbered[request.reference] = next_reference(
                db_session=db_session, received_at=received
            )
        if queued is not None:
            _write_references(queued, numbered)
            write_queued(db_session, queued)
        for request in filed:
            _write_reference(db_session, request, numbered[request.reference])
    _record_requester_events(db_session, events, now)
    for request in filed:
        append_pending(db_session, _submitted_event(db_session, request, filed, now))
    db_session.flush()
    return SubmitResult(request=filed[0], reused=False, parts=(*filed, *carried_on))


def _submitted_event(
    db_session: Session, request: DataRequest, filed: Sequence[DataRequest], now: datetime
) -> PendingEvent:
    """A filed request's "submitted" event, made ready to append (the parts' references,
    numbered, for a request of several)."""
    details: dict[str, object] = {
        "type": request.type.value,
        "channel": request.created_via.value,
        "role": request.requester_role.value,
    }
    if request.group_id is not None:
        details["parts"] = [part.reference for part in filed]
    return pending_event(
        db_session=db_session,
        request=request,
        actor=Actor.REQUESTER,
        action="submitted",
        at=now,
        to_status=Status.RECEIVED,
        details=details,
    )


def _file_in_one_statement(
    db_session: Session,
    request: DataRequest,
    queued: OutboxMessage | None,
    *,
    received: datetime,
    now: datetime,
) -> None:
    """PostgreSQL, one request to file (its id taken, not yet written; its email rendered under
    a provisional reference): take the year's number, write the request with its reference,
    write its email with the reference in place of the provisional one, and append its
    "submitted" event, in one statement (`_filing_statement`). The counter and the chain's head,
    which every submission waits for, are then held from that statement to the commit, never
    across a round trip of the web process: under load each round trip waited for the process
    to be given a core again, and the submissions queued behind the counter (issue 17). The
    request's row is written once, numbered (an UPDATE of its reference rewrote it, with its
    twelve index entries). Its event names no reference: it is made and hashed before. The rows
    end as `submit_request`'s other path writes them."""
    pending = _submitted_event(db_session, request, [request], now)
    provisional = request.reference
    values: dict[str, object] = {
        "year": received.year,
        "reference_prefix": reference_prefix(received.year),
        "provisional": provisional,
        **{f"r_{name}": value for name, value in new_row_values(request).items()},
        "r_id": request.id,
        **pending.parameters(),
    }
    if queued is not None:
        db_session.expunge(queued)  # the statement writes it, numbered
        values.update({f"m_{name}": value for name, value in new_row_values(queued).items()})
    db_session.flush()  # anything else pending is written before the counter is taken
    statement = _filing_statement(queued is not None, pending.content_fields is not None)
    written = execute_core(db_session, statement, values).one()
    pending.sealed(written)  # the database linked the event as chain.py does
    request.reference = written.reference
    keep_as_written(db_session, request, written.request_id)
    if queued is not None:
        _write_references(queued, {provisional: written.reference})
        keep_as_written(db_session, queued, written.mail_id)


@cache
def _filing_statement(with_email: bool, with_content: bool) -> Select[Any]:
    """`WITH bump AS (the year's counter incremented, RETURNING its number), filed AS (INSERT
    the request, its reference the number formatted as next_reference does, RETURNING its id
    and reference) [, mail AS (INSERT the email SELECT its values, replace(subject | text |
    html, :provisional, filed.reference) FROM filed RETURNING its id)], then the audit append
    (`chained_append`), its head locked once those have run, SELECT the event's sequence and
    hashes, the request's id and reference [and the email's id]`. Built once per shape; every
    value a parameter."""
    bump = counter_bump("postgresql")
    if bump is None:
        raise RuntimeError("PostgreSQL increments the counter in one statement")
    taken = bump.cte("bump")
    requests = table_of(DataRequest)
    number = sa_select(taken.c.last_number).scalar_subquery()
    request_values = [
        reference_in_sql(number)
        if column.name == "reference"
        else bindparam(f"r_{column.name}", type_=column.type)
        for column in requests.c
    ]
    filed = (
        sa_insert(requests)
        .from_select([column.name for column in requests.c], sa_select(*request_values))
        .returning(requests.c.id.label("request_id"), requests.c.reference)
        .cte("filed")
    )
    if not with_email:
        return chained_append(with_content, (filed,))
    emails = table_of(OutboxMessage)
    columns = [column for column in emails.c if column.name != "id"]
    provisional = bindparam("provisional", type_=Text())
    given = [bindparam(f"m_{column.name}", type_=column.type) for column in columns]
    values = [
        func.replace(value, provisional, filed.c.reference)
        if column.name in ("subject", "text_body", "html_body")
        else value
        for column, value in zip(columns, given, strict=True)
    ]
    mail = (
        sa_insert(emails)
        .from_select([column.name for column in columns], sa_select(*values).select_from(filed))
        .returning(emails.c.id.label("mail_id"))
        .cte("mail")
    )
    return chained_append(with_content, (filed, mail))


PROVISIONAL_REFERENCE_PREFIX = "PENDING-"


def _provisional_reference() -> str:
    """A reference that no request keeps: a filed request holds it, unseen by any other
    transaction, until its number is taken just before the commit (`submit_request`)."""
    return PROVISIONAL_REFERENCE_PREFIX + secrets.token_hex(6)


def _write_reference(db_session: Session, request: DataRequest, reference: str) -> None:
    """Give a request filed under a provisional reference its number, in one UPDATE (no flush:
    the row is not yet visible to any other transaction, so its version stays as written)."""
    execute_core(db_session, _reference_update(), {"request_id": request.id, "numbered": reference})
    set_committed_value(request, "reference", reference)


@cache
def _reference_update() -> Update:
    requests = table_of(DataRequest)
    return (
        sa_update(requests)
        .where(requests.c.id == bindparam("request_id"))
        .values(reference=bindparam("numbered"))
    )


def _write_references(email: OutboxMessage, numbered: dict[str, str]) -> None:
    """Put each request's number in place of its provisional reference in its queued email."""
    for provisional, reference in numbered.items():
        email.subject = email.subject.replace(provisional, reference)
        email.text_body = email.text_body.replace(provisional, reference)
        if email.html_body is not None:
            email.html_body = email.html_body.replace(provisional, reference)


def _record_requester_events(
    db_session: Session, events: list[tuple[DataRequest, str, dict[str, object]]], now: datetime
) -> None:
    """Append the requester's events of a submission, in the order they happened."""
    for request, action, details in events:
        append_action(
            db_session=db_session,
            request=request,
            actor=Actor.REQUESTER,
            action=action,
            at=now,
            details=details,
        )


def _open_request_like(
    db_session: Session,
    kind: RequestType,
    email: str,
    subject: ForSomeoneElse | None,
    *,
    new_id: bool = False,
) -> tuple[DataRequest | None, int | None]:
    """Return the oldest open request of type `kind` from the address `email` for the same
    person (the requester, or the same represented person: R45), if any; with `new_id`
    (PostgreSQL), also the id a new request would take, from the table's sequence in the same
    statement (an id left unused when a request is found: ids may have gaps, references not).

    Its id is looked up by a statement built once (every submission asks, and almost none
    finds one: building the ORM query and its result cost more than the lookup), the request
    then loaded only when there is one."""
    parameters = {
        "email": normalize_email(email),
        "type": kind,
        "role": subject.role if subject else RequesterRole.SELF,
        "subject_email": subject.subject_email if subject else None,
    }
    query = _open_request_query(for_someone_else=subject is not None)
    if new_id:
        row = execute_core(db_session, _with_new_id(query), parameters).one()
        found, taken = cast("tuple[int | None, int]", tuple(row))
    else:
        found, taken = execute_core(db_session, query, parameters).scalar_one_or_none(), None
    return (None if found is None else db_session.get(DataRequest, found)), taken


@cache
def _open_request_query(*, for_someone_else: bool) -> Select[tuple[int]]:
    requests = table_of(DataRequest)
    return (
        sa_select(requests.c.id)
        .where(
            requests.c.normalized_email == bindparam("email"),
            requests.c.type == bindparam("type"),
            requests.c.status.not_in(TERMINAL),
            requests.c.requester_role == bindparam("role"),
            requests.c.subject_email == bindparam("subject_email")
            if for_someone_else
            else requests.c.subject_email.is_(None),
        )
        .order_by(requests.c.received_at, requests.c.id)
        .limit(1)
    )


@cache
def _with_new_id(query: Select[tuple[int]]) -> Select[tuple[int | None, int]]:
    """`SELECT (the look-up), nextval(the requests' id sequence)` (PostgreSQL)."""
    sequence = func.pg_get_serial_sequence(table_of(DataRequest).name, "id")
    return sa_select(query.scalar_subquery(), func.nextval(sequence))


def resend_verification(
    *, db_session: Session, email: str, now: datetime, links: LinkSigner
) -> None:
    """Send new links for the requests of `email`: a verification link for each one waiting for
    confirmation, a status-page link for each one already confirmed (a lost link), the older
    links stopping working; do nothing, and say nothing, when there is none (no account
    enumeration)."""
    try:
        normalized = normalize_email(check_email(email))
    except RequestError:
        return
    requests = db_session.exec(
        select(DataRequest)
        .where(
            DataRequest.normalized_email == normalized,
            col(DataRequest.status) != Status.EXPIRED,
        )
        .order_by(col(DataRequest.id))
    ).all()
    confirmed_groups: set[int] = set()
    for request in requests:
        waiting = request.status is Status.RECEIVED
        if request.group_id is not None:
            # One email per submission: its verification confirms every waiting part, and the
            # status page of any part shows them all.
            if request.group_id in confirmed_groups:
                continue
            confirmed_groups.add(request.group_id)
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.REQUESTER,
            action="verification_link_renewed" if waiting else "status_link_renewed",
            at=now,
        )
        if waiting:
            _send_verification(db_session, request, now=now, links=links, reused=False)
        else:
            send_status_link(
                db_session, request, now=now, links=links, already_verified=True, renewed=True
            )
    db_session.flush()


# --- proving the address ------------------------------------------------------------------------


def verify_request(
    *, db_session: Session, token: str, now: datetime, links: LinkSigner
) -> tuple[DataRequest, str]:
    """Verify the request a link was sent for; return it with its new status-page token, which
    exists in clear only here and in the email queued with it.

    Raise LinkInvalid (altered), LinkExpired (too old, replaced, or the request expired) or
    LinkUsed (already clicked); nothing changes then.
    """
    claim = links.read_verification_token(token)
    request = db_session.get(DataRequest, claim.request_id)
    if request is None:
        raise LinkInvalid()
    if request.status is Status.EXPIRED:
        raise LinkExpired(
            "This request expired because it was not confirmed in time: please file it again."
        )
    if request.status is Status.CANCELLED:
        raise LinkInvalid("This request was cancelled: file a new one if you need to.")
    if request.status is not Status.RECEIVED:
        raise LinkUsed()
    stored_nonce = request.verification_nonce or ""
    if not secrets.compare_digest(stored_nonce.encode(), claim.nonce.encode()):
        raise LinkExpired(
            "This link was replaced by a newer one: use the link in the most recent email, or "
            "ask for a new one."
        )
    if now - claim.issued_at > links.max_age:
        raise LinkExpired()

    try:
        change_status(
            db_session=db_session,
            request=request,
            action=Action.VERIFY_EMAIL,
            actor=Actor.REQUESTER,
            at=now,
            also=lambda fact: mark_verified(request, fact),
        )
    except StaleDataError:  # a concurrent click verified it first; the caller rolls back
        raise LinkUsed() from None
    parts = [request]
    for part in parts_of(db_session, request):
        if part.id != request.id and _waits_for_this_link(part, stored_nonce):
            change_status(
                db_session=db_session,
                request=part,
                action=Action.VERIFY_EMAIL,
                actor=Actor.REQUESTER,
                at=now,
                also=partial(mark_verified, part),
            )
            parts.append(part)
    status_token = send_status_link(
        db_session, request, now=now, links=links, already_verified=False
    )
    for part in parts:
        after_verified(db_session, part, now)
    db_session.flush()
    return request, status_token


def _waits_for_this_link(part: DataRequest, nonce: str) -> bool:
    """Tell whether `part` of a submission waits for the verification link of nonce `nonce`."""
    return (
        part.status is Status.RECEIVED
        and part.verification_nonce is not None
        and secrets.compare_digest(part.verification_nonce.encode(), nonce.encode())
    )


# --- following the request ----------------------------------------------------------------------


def replaced_status_token(*, db_session: Session, token: str) -> ReplacedStatusToken | None:
    """Return the record of `token` when it opened a request's status page until a newer link
    replaced it, else None."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return db_session.get(ReplacedStatusToken, token_digest(token))


def renew_status_token(db_session: Session, request: DataRequest, now: datetime) -> str:
    """Give the request a new status-page token (returned; only its digest is kept) and remember
    the one it replaces, whose link then says that a newer one was sent."""
    if request.status_token_hash is not None and request.id is not None:
        db_session.add(
            ReplacedStatusToken(
                token_hash=request.status_token_hash, request_id=request.id, replaced_at=now
            )
        )
    return request.issue_status_token()


def request_for_status_token(*, db_session: Session, token: str) -> DataRequest | None:
    """Return the request whose status page `token` opens, or None."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return db_session.exec(
        select(DataRequest).where(DataRequest.status_token_hash == token_digest(token))
    ).one_or_none()


def cancel_request(*, db_session: Session, request: DataRequest, now: datetime) -> None:
    """Cancel the request at its requester's wish and confirm by email; raise WorkflowError when
    it is too late (processing has started, or it is already closed)."""
    change_status(
        db_session=db_session,
        request=request,
        action=Action.CANCEL,
        actor=Actor.REQUESTER,
        at=now,
        also=lambda _fact: _forget_nonce(request),
    )
    mail_requester(
        db_session,
        request,
        EmailKind.CANCELLED,
        dedup_key=f"cancelled:{request.id}",
        now=now,
        cancelled_on=written_date(now, request.language, request.zone),
    )
    db_session.flush()


def answer_request(
    *, db_session: Session, request: DataRequest, message: str, now: datetime
) -> None:
    """Record the requester's answer to staff's question; the request goes back in review and its
    clock resumes. Raise RequestError on an empty or overlong answer, WorkflowError when no
    answer is awaited.

    The answer is appended to the request's message, dated, for lack of a correspondence table.
    """
    answer = (message or "").strip()
    if not answer:
        raise RequestError("Write your answer before sending it.")

    def append_answer(_fact: AuditFact) -> None:
        heading = f"--- Answer of {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC ---"
        entry = f"{heading}\n{answer}"
        combined = f"{request.message}\n\n{entry}" if request.message else entry
        if len(combined) > MESSAGE_MAX:
            room = MESSAGE_MAX - (len(combined) - len(answer))
            raise RequestError(
                f"Your answer is too long: it can have at most {max(room, 0)} characters."
            )
        request.message = combined

    change_status(
        db_session=db_session,
        request=request,
        action=Action.REQUESTER_ANSWERED,
        actor=Actor.REQUESTER,
        at=now,
        also=append_answer,
    )
    db_session.flush()


# --- helpers ------------------------------------------------------------------------------------


def mark_verified(request: DataRequest, fact: AuditFact) -> None:
    """Note when the address was proven (by link, API client or staff); its verification links
    stop working."""
    request.verified_at = fact.at
    request.verification_nonce = None


def _forget_nonce(request: DataRequest) -> None:
    request.verification_nonce = None


def after_verified(db_session: Session, request: DataRequest, now: datetime) -> None:
    """Do what must not wait for review once an address is proven: an objection to marketing is
    honoured at once (R27, OBJECTION_IMMEDIATE, on by default)."""
    if request.type is RequestType.OBJECTION and not request.for_someone_else:
        # R45: one made for someone else waits for staff to check the proof, like any other
        from dsr.execution.changes import objection_hook  # the executors need the requests

        objection_hook(db_session, request, now)


def new_nonce() -> str:
    """A verification link's nonce: random, so that an email's key holding it is new."""
    return secrets.token_urlsafe(24)


def _send_verification(
    db_session: Session,
    request: DataRequest,
    *,
    now: datetime,
    links: LinkSigner,
    reused: bool,
    nonce: str | None = None,
) -> OutboxMessage | None:
    """Give the request a new nonce (older links stop working; `nonce`: the one a new request
    was given when filed) and queue the email of its link; for a submission of several parts,
    one link and one email for every part still waiting. Return the email queued (None for a
    requester without an address), added for the caller's next flush: its key holds the nonce."""
    if request.id is None:
        db_session.flush()
    if request.id is None:
        raise RuntimeError("the request has no id after a flush")
    nonce = nonce or new_nonce()
    waiting = [
        part
        for part in parts_of(db_session, request)
        if part.id == request.id or part.status is Status.RECEIVED
    ]
    for part in waiting:
        if part.verification_nonce != nonce:  # a new request was written with it: no flush
            part.verification_nonce = nonce
    token = links.verification_token(request_id=request.id, nonce=nonce, now=now)
    parts = (
        [
            {"reference": part.reference, "type_label": type_phrase(part.type, request.language)}
            for part in waiting
        ]
        if len(waiting) > 1
        else []
    )
    return mail_requester(
        db_session,
        request,
        EmailKind.VERIFICATION,
        dedup_key=f"verification:{request.id}:{nonce}",
        now=now,
        received_on=written_date(request.received_at, request.language, request.zone),
        verify_url=links.verify_url(token),
        valid_hours=int(links.max_age.total_seconds() // 3600),
        message=request.message,
        rectification=next(
            (part.rectification_details for part in waiting if part.rectification_details), None
        ),
        reused=reused,
        parts=parts,
        new_key=True,
    )


def send_status_link(
    db_session: Session,
    request: DataRequest,
    *,
    now: datetime,
    links: LinkSigner,
    already_verified: bool,
    renewed: bool = False,
) -> str:
    """Give the request a new status-page token (the old one stops working), queue the email that
    carries it, and return it. `renewed`: the requester asked for it (a lost link)."""
    token = renew_status_token(db_session, request, now)
    parts = [
        {"reference": part.reference, "type_label": type_phrase(part.type, request.language)}
        for part in (parts_of(db_session, request) if request.group_id is not None else ())
    ]
    mail_requester(
        db_session,
        request,
        EmailKind.STATUS_LINK,
        dedup_key=f"status-link:{request.id}:{token_digest(token)[:32]}",
        now=now,
        status_url=links.status_url(token),
        due_on=written_date(request.state.due_as_of(now), request.language, request.zone),
        already_verified=already_verified,
        renewed=renewed,
        still_open=request.status not in TERMINAL,
        parts=parts,
    )
    return token


def mail_requester(
    db_session: Session,
    request: DataRequest,
    kind: str,
    *,
    dedup_key: str,
    now: datetime,
    answers: bool = False,
    new_key: bool = False,
    **context: Any,
) -> OutboxMessage | None:
    """Queue one email of `kind` (an `EmailKind`, or the name of another requester email's
    templates, such as a delivery's) to the requester, in their language, about their request;
    `answers`: it carries the answer, and its delivery completes the request (R47); `new_key`:
    `dedup_key` holds a fresh nonce (see `enqueue`).

    Nothing is queued to a requester who gave no address (a letter, a call), nor the answer of
    a request answered by post: it is kept as its letter (`answer_letter`), which staff print
    and post (`dsr.requests.channels`); the other emails know `by_post`, so that they never
    promise an answer by email."""
    context.setdefault("by_post", request.answer_channel is AnswerChannel.POST)
    if answers and request.answer_channel is AnswerChannel.POST:
        subject, text = render_letter(
            kind,
            request.language,
            reference=request.reference,
            type_label=type_phrase(request.type, request.language),
            **context,
        )
        request.answer_letter = f"{subject}\n\n{text}"  # printed by staff (`answer_letter`)
        return None
    if not request.has_address:
        return None
    email = render_email(
        kind,
        request.language,
        reference=request.reference,
        type_label=type_phrase(request.type, request.language),
        **context,
    )
    return enqueue(
        db_session=db_session,
        to=request.requester_email,
        email=email,
        language=request.language,
        dedup_key=dedup_key,
        now=now,
        request_id=request.id,
        answers_request=answers,
        new_key=new_key,
    )
