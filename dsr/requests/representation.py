"""Requests made for someone else (R45): a representative with a mandate, or the holder of
parental authority for a minor. The requester proves their own address by the link; staff check
the proof kept with the request (the mandate, the proof of parental authority) before the request
can be approved; the person is found in the systems by their own address, and the answer goes to
the requester's verified address.

Each operation flushes, never commits, and is audited in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from dsr.addresses import normalize_email
from dsr.audit.models import record_action
from dsr.documents.models import DocumentKind, RemovalCause
from dsr.documents.service import remove_documents
from dsr.i18n import lazy_gettext
from dsr.requests.checks import RequestError, check_email
from dsr.requests.models import SUBJECT_NAME_MAX, DataRequest, ProofCheck, RequesterRole
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import TERMINAL, Actor, Status
from exports.made_for import MadeFor

PROOF_CHECKED_ACTION = "proof_checked"
REPRESENTATION_SET_ACTION = "representation_set"
REASON_MAX = 2000

BEFORE_APPROVAL = frozenset(
    {Status.RECEIVED, Status.VERIFIED, Status.IN_REVIEW, Status.AWAITING_REQUESTER}
)
"""Whom a request is for can be set until it is approved."""

ROLE_NAMES = {
    RequesterRole.SELF: lazy_gettext("the person themselves"),
    RequesterRole.REPRESENTATIVE: lazy_gettext("a representative with a mandate"),
    RequesterRole.PARENTAL_AUTHORITY: lazy_gettext("the holder of parental authority (minor)"),
}
"""Who made a request, as staff read it."""


def made_for(request: DataRequest) -> MadeFor | None:
    """For whom the answer (report, certificate) says it was made, when not the requester."""
    if not request.for_someone_else or not request.subject_email:
        return None
    return MadeFor(
        name=request.subject_name or "",
        email=request.subject_email,
        requester_role=request.requester_role.value,
    )


def approval_refusal(request: DataRequest) -> str | None:
    """Why the request cannot be approved yet, or None: a request made for someone else waits
    for staff to accept the proof that the requester may act for them (R45)."""
    if not request.for_someone_else:
        return None
    if request.proof_check is ProofCheck.REFUSED:
        return lazy_gettext(
            "The proof that the requester may act for this person was refused: ask for another "
            "one and record its check, or refuse the request."
        )
    if request.proof_check is not ProofCheck.ACCEPTED:
        return lazy_gettext(
            "This request is made for someone else: record the check of the proof (mandate or "
            "parental authority) before approving it."
        )
    return None


def record_proof_check(
    *,
    db_session: Session,
    request: DataRequest,
    accepted: bool,
    reason: str,
    staff_label: str,
    now: datetime,
) -> None:
    """Record staff's check of the proof that the requester may act for the person: accepted,
    or refused with the reason. The requester's own identity document, if they sent one, has
    served and is deleted (the CNIL asks not to keep copies)."""
    if not request.for_someone_else:
        raise OperationRefused(lazy_gettext("This request is made by the person themselves."))
    if request.status in TERMINAL:
        raise OperationRefused(lazy_gettext("This request is closed."))
    reason = (reason or "").strip()
    if not accepted and not reason:
        raise OperationRefused(lazy_gettext("Say why the proof is refused."))
    if len(reason) > REASON_MAX:
        raise OperationRefused(
            lazy_gettext("Please keep this under %(max)d characters.", max=REASON_MAX)
        )
    outcome = ProofCheck.ACCEPTED if accepted else ProofCheck.REFUSED
    request.proof_check = outcome
    request.proof_checked_at = now
    db_session.add(request)
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=PROOF_CHECKED_ACTION,
        at=now,
        reason=reason or None,
        details={"outcome": outcome.value, "role": request.requester_role.value},
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
    db_session.flush()


def set_representation(
    *,
    db_session: Session,
    request: DataRequest,
    role: RequesterRole,
    subject_email: str,
    subject_name: str,
    staff_label: str,
    now: datetime,
) -> None:
    """Record that the request is made for someone else (one received by letter, say), or for
    the requester themselves again; the proof is to be checked again."""
    if request.status not in BEFORE_APPROVAL:
        raise OperationRefused(
            lazy_gettext("Whom the request is for can no longer change at this stage.")
        )
    if role is RequesterRole.SELF:
        request.requester_role = RequesterRole.SELF
        request.subject_email = request.subject_name = None
    else:
        try:
            address = normalize_email(check_email(subject_email))
        except RequestError:
            raise OperationRefused(
                lazy_gettext("Enter a valid email address, like name@example.org.")
            ) from None
        if address == request.normalized_email:
            raise OperationRefused(
                lazy_gettext("Give the address of the person represented, not the requester's.")
            )
        name = (subject_name or "").strip()
        if not name or len(name) > SUBJECT_NAME_MAX:
            raise OperationRefused(lazy_gettext("Enter the name of the person."))
        request.requester_role = role
        request.subject_email = address
        request.subject_name = name
    request.proof_check = None
    request.proof_checked_at = None
    db_session.add(request)
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=REPRESENTATION_SET_ACTION,
        at=now,
        details={"role": role.value},
    )
    db_session.flush()
