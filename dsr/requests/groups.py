"""Submissions that ask for several things at once (issue 19): one request per type, tied by
`DataRequest.group_id` (the first part's id, on every part), received at the same instant with
the same address, language and message. Each part keeps its own reference, status, deadline,
answer and audit trail; the requester sees them together, and the order of the parts protects
them: an erasure or a deactivation does not start before the copy of the data asked for in the
same submission has been produced."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from dsr.requests.checks import RequestError, checked_request
from dsr.requests.models import DataRequest, DataRequestCreate
from dsr.requests.workflow import RequestType, Status

ANSWERS_FIRST: frozenset[RequestType] = frozenset({RequestType.ACCESS, RequestType.PORTABILITY})
"""The parts whose answer (a copy of the data) must exist before the data changes."""

CHANGES_AFTER: frozenset[RequestType] = frozenset({RequestType.ERASURE, RequestType.DEACTIVATION})
"""The parts that take away what a copy of the data would show, or the account that holds it."""

PRODUCED_OR_CLOSED: frozenset[Status] = frozenset(
    {
        Status.READY_TO_SEND,
        Status.COMPLETED,
        Status.DENIED,
        Status.EXPIRED,
        Status.CANCELLED,
    }
)
"""A copy of the data in one of these states no longer holds back the other parts: it is
produced (ready to send, answered), or it will never be (refused, expired, cancelled)."""


def checked_types(
    request_type: RequestType | str | None, types: Iterable[RequestType | str] | None
) -> tuple[RequestType, ...]:
    """Return the types asked for, in the order of the workflow's list, from a single `request_type`
    or a list `types` (not both); raise RequestError when none is given, one is unknown, or one
    is given twice."""
    given: list[RequestType | str] = []
    if request_type is not None and str(request_type) != "":
        given.append(request_type)
    if types is not None:
        if given:
            raise RequestError("Give either one type of request or a list of them, not both.")
        given = list(types)
    if not given:
        raise RequestError("Choose what you ask for among the types of request.")
    checked: list[RequestType] = []
    for value in given:
        try:
            kind = RequestType(value)
        except ValueError:
            raise RequestError("Choose what you ask for among the types of request.") from None
        if kind in checked:
            raise RequestError("Each type of request can be asked for only once.")
        checked.append(kind)
    order = list(RequestType)
    return tuple(sorted(checked, key=order.index))


def checked_parts(
    *,
    email: str,
    request_type: RequestType | str | None,
    types: Iterable[RequestType | str] | None,
    language: str,
    message: str | None,
    rectification: str | None,
    designee_name: str | None = None,
    designee_email: str | None = None,
) -> list[DataRequestCreate]:
    """Return the checked input of each part a submission asks for (`checked_types`), in their
    order: the correction goes to the rectification only, the designated person to post-mortem
    directives only; raise RequestError on invalid input, or when a correction or a designated
    person is given without the type it belongs to."""
    asked = checked_types(request_type, types)
    if rectification and RequestType.RECTIFICATION not in asked:
        raise RequestError("Only a rectification request says what to correct.")
    if (designee_name or designee_email) and RequestType.POST_MORTEM not in asked:
        raise RequestError("Only post-mortem directives name a designated person.")
    return [
        checked_request(
            email=email,
            request_type=kind,
            language=language,
            message=message,
            rectification=rectification if kind is RequestType.RECTIFICATION else None,
            designee_name=designee_name if kind is RequestType.POST_MORTEM else None,
            designee_email=designee_email if kind is RequestType.POST_MORTEM else None,
        )
        for kind in asked
    ]


def parts_of(db_session: Session, request: DataRequest) -> list[DataRequest]:
    """Return every part of `request`'s submission, itself included, first part first; a request
    filed alone is its only part."""
    if request.group_id is None:
        return [request]
    return list(
        db_session.exec(
            select(DataRequest)
            .where(DataRequest.group_id == request.group_id)
            .order_by(col(DataRequest.id))
        ).all()
    )


def other_parts(db_session: Session, request: DataRequest) -> list[DataRequest]:
    """Return the other parts of `request`'s submission (none for a request filed alone)."""
    return [part for part in parts_of(db_session, request) if part.id != request.id]


def answers_awaited(db_session: Session, request: DataRequest) -> Sequence[DataRequest]:
    """Return the parts whose copy of the data `request` must wait for before it is carried out:
    for an erasure or a deactivation, the access and portability parts of the same submission
    that are not yet produced (nor refused, expired or cancelled); nothing for any other part."""
    if request.type not in CHANGES_AFTER or request.group_id is None:
        return ()
    return [
        part
        for part in other_parts(db_session, request)
        if part.type in ANSWERS_FIRST and part.status not in PRODUCED_OR_CLOSED
    ]
