"""The identity document staff asked for, with its reason (R46): the requester sends it from their
status page, it is kept sealed and seen by admins and DPOs only, and its content is deleted in
the transaction that records staff's check (the CNIL asks not to keep copies). The check, its
date, method and outcome stay in the audit. A document still unchecked when its request closes is
deleted then.

Each operation flushes, never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from dsr.audit.models import RequestEvent, record_action
from dsr.documents.models import DocumentKind, RemovalCause
from dsr.documents.service import (
    REQUESTER_LABEL,
    add_document,
    documents_of,
    remove_documents,
)
from dsr.i18n import lazy_gettext
from dsr.requests import staff_actions
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import Action, Actor, Status
from dsr.sealing import SecretBox

CHECKED_ACTION = "identity_checked"
METHOD = "identity_document"
NOTE_MAX = 2000


def identity_document_awaited(db_session: Session, request: DataRequest) -> bool:
    """Whether the request waits for the requester's identity document: staff's last question
    was the "Ask for an identity document" action and no answer came since."""
    if request.status is not Status.AWAITING_REQUESTER or request.id is None:
        return False
    last = db_session.exec(
        select(RequestEvent)
        .where(RequestEvent.request_id == request.id)
        .where(RequestEvent.action == Action.ASK_REQUESTER.value)
        .order_by(col(RequestEvent.sequence).desc())
        .limit(1)
    ).first()
    return last is not None and last.details.get("asked_for") == staff_actions.IDENTITY_DOCUMENT


def unchecked_identity_documents(db_session: Session, request: DataRequest) -> int:
    """How many identity documents of the request are kept, waiting for their check."""
    return sum(
        1
        for document in documents_of(db_session, request)
        if document.kind is DocumentKind.IDENTITY_DOCUMENT and not document.removed
    )


def receive_identity_document(
    *,
    db_session: Session,
    request: DataRequest,
    filename: str | None,
    data: bytes,
    box: SecretBox,
    max_bytes: int,
    now: datetime,
) -> None:
    """Keep the identity document the requester sent, sealed (audited). Raise OperationRefused
    when none is asked for or one already waits for its check, DocumentRefused for a file the
    desk does not keep; nothing is stored then."""
    if not identity_document_awaited(db_session, request):
        raise OperationRefused(lazy_gettext("No identity document is asked for this request."))
    if unchecked_identity_documents(db_session, request):
        raise OperationRefused(
            lazy_gettext("We already received your identity document: we will check it soon.")
        )
    add_document(
        db_session=db_session,
        request=request,
        kind=DocumentKind.IDENTITY_DOCUMENT,
        filename=filename,
        data=data,
        box=box,
        max_bytes=max_bytes,
        added_by=REQUESTER_LABEL,
        actor=Actor.REQUESTER,
        now=now,
    )
    db_session.flush()


def record_identity_check(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    confirmed: bool,
    note: str,
    staff_label: str,
    now: datetime,
) -> None:
    """Record staff's check of the requester's identity by the document they sent: confirmed,
    the review resumes (when it waited for the requester); not confirmed, the request is refused
    with `note` as its reason, sent to the requester. In the same transaction every identity
    document of the request has its content deleted; the audit keeps the check."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise OperationRefused(
            lazy_gettext("Please keep this under %(max)d characters.", max=NOTE_MAX)
        )
    if not confirmed and not note:
        raise OperationRefused(
            lazy_gettext("Say why the identity is not confirmed: it is sent to the requester.")
        )
    if not any(
        document.kind is DocumentKind.IDENTITY_DOCUMENT
        for document in documents_of(db_session, request)
    ) and not identity_document_awaited(db_session, request):
        raise OperationRefused(lazy_gettext("No identity document was asked for this request."))
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=CHECKED_ACTION,
        at=now,
        reason=note or None,
        details={"outcome": "confirmed" if confirmed else "not_confirmed", "method": METHOD},
    )
    remove_documents(
        db_session=db_session,
        request=request,
        cause=RemovalCause.CHECKED,
        now=now,
        kinds=[DocumentKind.IDENTITY_DOCUMENT],
        actor=Actor.STAFF,
        actor_label=staff_label,
    )
    if confirmed:
        if request.status is Status.AWAITING_REQUESTER:
            staff_actions.resume_review(
                db_session=db_session,
                request=request,
                version_id=version_id,
                staff_label=staff_label,
                answer=note or str(lazy_gettext("Identity confirmed by an identity document.")),
                now=now,
            )
    else:
        staff_actions.deny(
            db_session=db_session,
            request=request,
            version_id=version_id,
            staff_label=staff_label,
            reason=note,
            now=now,
        )
    db_session.flush()


def forget_unchecked_identity_documents(
    db_session: Session, request: DataRequest, now: datetime
) -> int:
    """Delete the content of the identity documents never checked, as their request closes."""
    return remove_documents(
        db_session=db_session,
        request=request,
        cause=RemovalCause.CLOSED,
        now=now,
        kinds=[DocumentKind.IDENTITY_DOCUMENT],
    )
