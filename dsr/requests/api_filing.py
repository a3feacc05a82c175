"""Requests filed by an API client that has already authenticated its learner: created verified,
once per idempotency key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dsr.addresses import normalize_email
from dsr.audit.models import record_action
from dsr.requests.checks import RequestError
from dsr.requests.groups import checked_parts, parts_of
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
    request_type: RequestType | str | None = None,
    types: Sequence[RequestType | str] | None = None,
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
    organisation's. Several `types` file one request per type, tied as the parts of one
    submission (see dsr.requests.groups), with one status link for them all.

    A key this client already used returns its request (the first part) unchanged (reused=True)
    when the input is the same, and raises IdempotencyConflict otherwise: a retry files no part
    again. Raise RequestError on invalid input (no type, an unknown or repeated one).
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
    if idempotency_key is not None:
        earlier = _by_idempotency_key(db_session, api_client_id, idempotency_key)
        if earlier is not None:
            return _replayed(db_session, earlier, checked)

    parts = [
        DataRequest.received(
            wanted,
            reference="",
            now=now,
            zone=zone,
            created_via=Channel.API,
            api_client_id=api_client_id,
            # the first part holds the key: the key names the whole submission
            idempotency_key=idempotency_key if index == 0 else None,
        )
        for index, wanted in enumerate(checked)
    ]
    request = parts[0]
    try:
        with db_session.begin_nested():  # a concurrent retry may win the key: no number is lost
            for part in parts:
                part.reference = next_reference(db_session=db_session, received_at=now)
                db_session.add(part)
            db_session.flush()
    except IntegrityError:
        earlier = (
            _by_idempotency_key(db_session, api_client_id, idempotency_key)
            if idempotency_key is not None
            else None
        )
        if earlier is None:
            raise
        return _replayed(db_session, earlier, checked)
    if len(parts) > 1:
        for part in parts:
            part.group_id = request.id
        db_session.flush()

    client_label = f"API client {api_client_name}"
    for part in parts:
        details: dict[str, object] = {"type": part.type.value, "channel": Channel.API.value}
        if part.group_id is not None:
            details["parts"] = [each.reference for each in parts]
        record_action(
            db_session=db_session,
            request=part,
            actor=Actor.SYSTEM,
            actor_label=client_label,
            action="submitted",
            at=now,
            to_status=Status.RECEIVED,
            details=details,
        )
        change_status(
            db_session=db_session,
            request=part,
            action=Action.VERIFY_EMAIL,
            actor=Actor.SYSTEM,
            at=now,
            reason=f"verified by {client_label}",
            actor_label=client_label,
            also=partial(mark_verified, part),
        )
    send_status_link(db_session, request, now=now, links=links, already_verified=False)
    for part in parts:
        after_verified(db_session, part, now)
    db_session.flush()
    return SubmitResult(request=request, reused=False, parts=tuple(parts))


def _by_idempotency_key(
    db_session: Session, api_client_id: int, idempotency_key: str
) -> DataRequest | None:
    return db_session.exec(
        select(DataRequest).where(
            DataRequest.api_client_id == api_client_id,
            DataRequest.idempotency_key == idempotency_key,
        )
    ).one_or_none()


def _replayed(
    db_session: Session, earlier: DataRequest, wanted: Sequence[DataRequestCreate]
) -> SubmitResult:
    """Return the submission an idempotency key made (its first part), if it was made from the
    same input."""
    parts = parts_of(db_session, earlier)
    first = wanted[0]
    same = (
        [part.type for part in parts] == [each.type for each in wanted]
        and earlier.normalized_email == normalize_email(first.requester_email)
        and earlier.language is first.language
        and earlier.message == first.message
        and next((p.rectification_details for p in parts if p.rectification_details), None)
        == next((w.rectification_details for w in wanted if w.rectification_details), None)
        and next((p.designee_name for p in parts if p.designee_name), None)
        == next((w.designee_name for w in wanted if w.designee_name), None)
        and next((p.designee_email for p in parts if p.designee_email), None)
        == next((w.designee_email for w in wanted if w.designee_email), None)
    )
    if not same:
        raise IdempotencyConflict()
    return SubmitResult(request=earlier, reused=True, parts=tuple(parts))
