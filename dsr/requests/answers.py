"""A request is answered when its answer has been delivered to the requester, not when it is
ready (R47): the email that carries the answer (the report's link, the erasure certificate, the
change applied) is queued as the answer to its request, and its delivery completes the request.

The outbox knows nothing of requests: it calls `complete_answered_request`, registered here with
`on_delivered`, in the transaction that marks the email sent, once per email. Importing this
module registers it (dsr.store_models imports it with the models, in every process that sends).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from dsr.audit.models import record_action
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import DeliveredEmail, on_delivered, send_again
from dsr.requests.models import DataRequest
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, AuditFact, Status


def complete_answered_request(db_session: Session, delivered: DeliveredEmail) -> None:
    """Complete the request `delivered` answers, dated by the delivery, if it waits for its
    answer to be sent; any other email, or a request already completed, changes nothing."""
    if delivered.answers_request_id is None:
        return
    request = db_session.get(DataRequest, delivered.answers_request_id)
    if request is None or request.status is not Status.READY_TO_SEND:
        return

    def mark_answered(fact: AuditFact) -> None:
        request.answered_at = fact.at

    change_status(
        db_session=db_session,
        request=request,
        action=Action.COMPLETE,
        actor=Actor.SYSTEM,
        at=delivered.sent_at,
        details={"answer_email": delivered.id},
        also=mark_answered,
    )


on_delivered(complete_answered_request)


@dataclass(frozen=True, slots=True)
class AnswerEmail:
    """Where the answer email of a request stands, as staff see it (never its address)."""

    status: OutboxStatus
    queued_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None


SENT_AGAIN_ACTION = "answer_sent_again"


class AnswerRefused(Exception):
    """The answer cannot be sent again now; `message` is written for staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _latest_answer(db_session: Session, request_id: int | None) -> OutboxMessage | None:
    return db_session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.answers_request_id == request_id)
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
    ).one_or_none()


def answer_email(db_session: Session, request_id: int | None) -> AnswerEmail | None:
    """Return the latest email queued as the answer to the request, or None."""
    message = _latest_answer(db_session, request_id)
    if message is None:
        return None
    return AnswerEmail(
        status=message.status,
        queued_at=message.created_at,
        sent_at=message.sent_at,
        attempts=message.attempts,
        last_error=message.last_error,
    )


def send_answer_again(
    *, db_session: Session, request: DataRequest, staff_label: str, now: datetime
) -> None:
    """Queue again the answer email of a request ready to send, after it failed for good (the
    server was down too long, a mailbox was full); audited. Raise AnswerRefused otherwise."""
    message = _latest_answer(db_session, request.id)
    if request.status is not Status.READY_TO_SEND or message is None:
        raise AnswerRefused("This request has no answer waiting to be sent.")
    if message.status is not OutboxStatus.FAILED:
        raise AnswerRefused("The answer email has not failed: it is sent or on its way.")
    copy = send_again(db_session=db_session, message=message, now=now)
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=SENT_AGAIN_ACTION,
        at=now,
        details={"failed_email": message.id, "answer_email": copy.id},
    )
