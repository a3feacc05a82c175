"""Requests filed by an API client that has already authenticated its learner: created verified,
once per idempotency key."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dsr.addresses import normalize_email
from dsr.audit.models import record_action
from dsr.requests.checks import RequestError, checked_request
from dsr.requests.links import LinkSigner
from dsr.requests.models import Channel, DataRequest, DataRequestCreate, next_reference
from dsr.requests.service import SubmitResult, after_verified, mark_verified, send_status_link
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, RequestType, Status


class IdempotencyConflict(RequestError):
    """The API client reused an idempotency key for a request that is not the same."""

    default_message = (
        "This Idempotency-Key was already used for a different request: use a new key for a new "
        "request, or send exactly the same request again."
    )


def submit_verified_request(
    *,
    db_session: Session,
    email: str,
    request_type: RequestType,
    language: str,
    message: str | None,
    rectification: str | None,
    designee_name: str | None = None,
    designee_email: str | None = None,
    api_client_id: int,
    api_client_name: str,
    idempotency_key: str | None,
    now: datetime,
    zone: ZoneInfo,
    links: LinkSigner,
) -> SubmitResult:
    """File a request for an API client that has already authenticated its learner: it is created
    verified (actor system, audited as vouched for by the client) and the learner is emailed the
    link of its status page. Its deadline is counted on the calendar of `zone`, the
    organisation's.

    A key this client already used returns its request unchanged (reused=True) when the input is
    the same, and raises IdempotencyConflict otherwise. Raise RequestError on invalid input.
    """
    wanted = checked_request(
        email=email,
        request_type=request_type,
        language=language,
        message=message,
        rectification=rectification,
        designee_name=designee_name,
        designee_email=designee_email,
    )
    if idempotency_key is not None:
        earlier = _by_idempotency_key(db_session, api_client_id, idempotency_key)
        if earlier is not None:
            return _replayed(earlier, wanted)

    request = DataRequest.received(
        wanted,
        reference="",
        now=now,
        zone=zone,
        created_via=Channel.API,
        api_client_id=api_client_id,
        idempotency_key=idempotency_key,
    )
    try:
        with db_session.begin_nested():  # a concurrent retry may win the key: no number is lost
            request.reference = next_reference(db_session=db_session, received_at=now)
            db_session.add(request)
    except IntegrityError:
        earlier = (
            _by_idempotency_key(db_session, api_client_id, idempotency_key)
            if idempotency_key is not None
            else None
        )
        if earlier is None:
            raise
        return _replayed(earlier, wanted)

    client_label = f"API client {api_client_name}"
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.SYSTEM,
        actor_label=client_label,
        action="submitted",
        at=now,
        to_status=Status.RECEIVED,
        details={"type": request.type.value, "channel": Channel.API.value},
    )
    change_status(
        db_session=db_session,
        request=request,
        action=Action.VERIFY_EMAIL,
        actor=Actor.SYSTEM,
        at=now,
        reason=f"verified by {client_label}",
        actor_label=client_label,
        also=lambda fact: mark_verified(request, fact),
    )
    send_status_link(db_session, request, now=now, links=links, already_verified=False)
    after_verified(db_session, request, now)
    db_session.flush()
    return SubmitResult(request=request, reused=False)


def _by_idempotency_key(
    db_session: Session, api_client_id: int, idempotency_key: str
) -> DataRequest | None:
    return db_session.exec(
        select(DataRequest).where(
            DataRequest.api_client_id == api_client_id,
            DataRequest.idempotency_key == idempotency_key,
        )
    ).one_or_none()


def _replayed(earlier: DataRequest, wanted: DataRequestCreate) -> SubmitResult:
    """Return the request an idempotency key made, if it was made from the same input."""
    same = (
        earlier.type is wanted.type
        and earlier.normalized_email == normalize_email(wanted.requester_email)
        and earlier.language is wanted.language
        and earlier.message == wanted.message
        and earlier.rectification_details == wanted.rectification_details
        and earlier.designee_name == wanted.designee_name
        and earlier.designee_email == wanted.designee_email
    )
    if not same:
        raise IdempotencyConflict()
    return SubmitResult(request=earlier, reused=True)
