"""Requests received by another channel than the form or the API (R44): an email, a letter, a
phone call, a visit. Staff record them on the dashboard; the clock starts at the receipt, not
when they are typed in. The address is then proven as for the form (the same verification
email), or staff record the identity check done otherwise, with its method, which verifies the
request at once. The answer goes the way the law allows (Art. 12(3)): electronically when the
request came electronically unless the person asked for post, by post when there is no address;
a request answered by post is completed when staff record the day the answer was posted (R47).

Functions take the session and flush, never commit: the view commits once, or rolls back all on
a refusal (nothing half-stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlmodel import Session, func, select

from dsr.audit.models import RequestEvent, record_action
from dsr.documents import service as documents
from dsr.documents.models import DocumentKind
from dsr.i18n import lazy_gettext
from dsr.languages import Language
from dsr.requests.checks import RequestError, check_email, checked_request
from dsr.requests.deadlines import deadline_for, end_of_day
from dsr.requests.links import LinkSigner
from dsr.requests.models import (
    CONTACT_MAX,
    DESIGNEE_NAME_MAX,
    MESSAGE_MAX,
    MESSAGE_REQUIRED,
    RECTIFICATION_MAX,
    STAFF_CHANNELS,
    AnswerChannel,
    Channel,
    DataRequest,
    DataRequestCreate,
    next_reference,
)
from dsr.requests.refusals import OperationRefused, check_version, flush_change
from dsr.requests.service import _send_verification
from dsr.requests.staff_actions import _step, verify_by_hand
from dsr.requests.workflow import Action, Actor, AuditFact, RequestType, Status
from dsr.sealing import SecretBox

SUBMITTED_ACTION = "submitted"
"""The event of a request filed, whichever way it came (the form's, the API's, staff's)."""
CHANNEL_DETAIL = "channel"


class ChannelRefused(OperationRefused):
    """The request cannot be recorded as given; `message` is written for staff."""


class ReceiptRefused(ChannelRefused):
    """The date and time of receipt cannot be right (in the future, or past the deadline)."""


class FileRefused(ChannelRefused):
    """The file received is not one the desk keeps (empty, too large, of another type)."""


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """The message or letter received, as a file to keep with the request (sealed)."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """What staff type from a request received by another channel. `request_types` has one type
    today; the desk files one request per type once a submission can carry several."""

    channel: Channel
    received_at: datetime
    request_types: Sequence[RequestType]
    email: str | None
    contact: str | None
    message: str | None
    rectification: str | None
    language: str
    answer_by_post: bool
    identity_method: str | None  # None: send the verification email instead
    received_file: ReceivedFile | None = None
    # post-mortem directives (art. 85 LIL): the person designated to carry them out; kept for
    # that type only, dropped for the others asked for in the same letter
    designee_name: str | None = None
    designee_email: str | None = None


def answer_channel_for(*, has_email: bool, by_post: bool) -> AnswerChannel:
    """Return how the answer must go: by post when the person asked for it or gave no address;
    by email otherwise (Art. 12(3): electronically when the request came electronically, as
    every request with an address in `ELECTRONIC_CHANNELS` does, and for a letter or a call
    whose author gave an address and did not ask for post)."""
    if by_post or not has_email:
        return AnswerChannel.POST
    return AnswerChannel.EMAIL


def check_receipt(received_at: datetime, *, now: datetime, zone: ZoneInfo) -> None:
    """Refuse a receipt in the future, or so old that the answer was already due."""
    if received_at > now:
        raise ReceiptRefused(lazy_gettext("The date and time of receipt cannot be in the future."))
    due = deadline_for(received_at, zone=zone)
    if due < now:
        raise ReceiptRefused(
            lazy_gettext(
                "A request received then was due by %(due)s: its deadline has passed. Check the "
                "date of receipt.",
                due=due.astimezone(zone).date().isoformat(),
            )
        )


def _checked_input(received: ReceivedRequest, request_type: RequestType) -> DataRequestCreate:
    """Return the request's input, checked as the form's is; the address may be missing. The
    designated person goes with post-mortem directives only (required there)."""
    post_mortem = request_type is RequestType.POST_MORTEM
    designee_name = received.designee_name if post_mortem else None
    designee_email = received.designee_email if post_mortem else None
    if received.email:
        try:
            return checked_request(
                email=received.email,
                request_type=request_type,
                language=received.language,
                message=received.message,
                rectification=received.rectification,
                designee_name=designee_name,
                designee_email=designee_email,
            )
        except RequestError as error:
            raise ChannelRefused(error.message) from None
    message = (received.message or "").strip() or None
    rectification = (received.rectification or "").strip() or None
    if (message and len(message) > MESSAGE_MAX) or (
        rectification and len(rectification) > RECTIFICATION_MAX
    ):
        raise ChannelRefused(lazy_gettext("The message or the correction asked for is too long."))
    try:
        language = Language(received.language)
    except ValueError:
        raise ChannelRefused(lazy_gettext("Choose one of the languages in the list.")) from None
    if request_type in MESSAGE_REQUIRED and not message:
        raise ChannelRefused(
            lazy_gettext("Type the request as received: for this request, it is its substance.")
        )
    designee_name = (designee_name or "").strip() or None
    designee_email = (designee_email or "").strip() or None
    if post_mortem:
        if not (designee_name and designee_email):
            raise ChannelRefused(
                lazy_gettext(
                    "Name the person designated to carry out the directives, and their email."
                )
            )
        if len(designee_name) > DESIGNEE_NAME_MAX:
            raise ChannelRefused(
                lazy_gettext(
                    "Keep the designated person's name under %(max)d characters.",
                    max=DESIGNEE_NAME_MAX,
                )
            )
        try:
            designee_email = check_email(designee_email)
        except RequestError as error:
            raise ChannelRefused(error.message) from None
    try:
        return DataRequestCreate(
            type=request_type,
            requester_email="",
            language=language,
            message=message,
            rectification_details=rectification,
            designee_name=designee_name,
            designee_email=designee_email,
        )
    except ValidationError:
        raise ChannelRefused(
            lazy_gettext("A rectification says what to correct, and only a rectification does.")
        ) from None


def record_received_request(
    *,
    db_session: Session,
    received: ReceivedRequest,
    staff_label: str,
    now: datetime,
    zone: ZoneInfo,
    links: LinkSigner,
    box: SecretBox,
    max_bytes: int,
) -> list[DataRequest]:
    """File the request(s) staff received by another channel, one per type, received at the
    given moment (its deadline counts from then), audited with the channel and who recorded it;
    keep the received file with each; then send the verification email, or verify at once with
    the identity check staff recorded. Raise ChannelRefused on bad input (the caller rolls back:
    a file refused stores no request either)."""
    if received.channel not in STAFF_CHANNELS:
        raise ChannelRefused(lazy_gettext("Choose how the request was received."))
    if not received.request_types:
        raise ChannelRefused(lazy_gettext("Choose what the person asks for."))
    if len(set(received.request_types)) != len(received.request_types):
        raise ChannelRefused(lazy_gettext("Each request is asked for once."))
    check_receipt(received.received_at, now=now, zone=zone)
    email = (received.email or "").strip() or None
    if email is not None:
        try:
            email = check_email(email)
        except RequestError as error:
            raise ChannelRefused(error.message) from None
    elif received.channel is Channel.EMAIL:
        raise ChannelRefused(lazy_gettext("Give the address the email came from."))
    method = (received.identity_method or "").strip() or None
    if email is None and method is None:
        raise ChannelRefused(
            lazy_gettext("Without an email address, record how the person's identity was checked.")
        )
    contact = (received.contact or "").strip() or None
    if contact is not None and len(contact) > CONTACT_MAX:
        raise ChannelRefused(
            lazy_gettext("Keep the contact details under %(max)d characters.", max=CONTACT_MAX)
        )
    if email is None and contact is None:
        raise ChannelRefused(
            lazy_gettext("Without an email address, give the postal address for the answer.")
        )
    answer_channel = answer_channel_for(
        has_email=email is not None, by_post=received.answer_by_post
    )
    if answer_channel is AnswerChannel.POST and contact is None:
        raise ChannelRefused(
            lazy_gettext("The answer is posted: give the postal address to post it to.")
        )
    filed: list[DataRequest] = []
    for request_type in received.request_types:
        wanted = _checked_input(replace(received, email=email), request_type)
        request = DataRequest.received(
            wanted,
            reference=next_reference(db_session=db_session, received_at=received.received_at),
            now=received.received_at,
            zone=zone,
            created_via=received.channel,
        )
        request.answer_channel = answer_channel
        request.contact_details = contact
        db_session.add(request)
        db_session.flush()
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.STAFF,
            actor_label=staff_label,
            action=SUBMITTED_ACTION,
            at=now,
            to_status=Status.RECEIVED,
            details={
                "type": request_type.value,
                CHANNEL_DETAIL: received.channel.value,
                "answer_channel": answer_channel.value,
                "received_at": received.received_at.isoformat(),
            },
        )
        if received.received_file is not None:
            try:
                documents.add_document(
                    db_session=db_session,
                    request=request,
                    kind=DocumentKind.RECEIVED_MESSAGE,
                    filename=received.received_file.filename,
                    data=received.received_file.data,
                    box=box,
                    max_bytes=max_bytes,
                    added_by=staff_label,
                    actor=Actor.STAFF,
                    now=now,
                )
            except documents.DocumentRefused as refused:
                raise FileRefused(refused.message) from None
        filed.append(request)
    if len(filed) > 1:  # the parts of one submission (issue 19): one link verifies them all
        for part in filed:
            part.group_id = filed[0].id
        db_session.flush()
    if method is None:
        _send_verification(db_session, filed[0], now=now, links=links, reused=False)
    else:  # verifies every part, with one status link
        verify_by_hand(
            db_session=db_session,
            request=filed[0],
            version_id=filed[0].version_id,
            staff_label=staff_label,
            reason=method,
            now=now,
            links=links,
        )
    db_session.flush()
    return filed


# --- the answer posted --------------------------------------------------------------------------

ANSWER_POSTED_ACTION = Action.ANSWER_POSTED.value
LETTER_PRINTED_ACTION = "answer_letter_printed"
"""Audited each time staff download a request's answer letter to print it."""


def posted_moment(posted_on: date, *, now: datetime, zone: ZoneInfo) -> datetime:
    """Return the instant a posting on `posted_on` is dated by: the end of that day on the
    organisation's calendar, or now when that is today."""
    return min(now, end_of_day(posted_on, zone))


def record_answer_posted(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    posted_on: date,
    staff_label: str,
    now: datetime,
) -> None:
    """Complete a request answered by post, dated by the day its answer was posted (R47:
    answered means sent), audited; for a refused one, date its refusal letter the same way (it
    stays refused, and is answered on that day). Raise OperationRefused (or RequestChanged)
    otherwise."""
    if request.answer_channel is not AnswerChannel.POST:
        raise ChannelRefused(
            lazy_gettext("This request is answered by email: the desk completes it on delivery.")
        )
    refusal = request.status is Status.DENIED
    if refusal and request.answered_at is not None:
        raise ChannelRefused(lazy_gettext("The refusal is already recorded as posted."))
    zone = request.zone
    today = now.astimezone(zone).date()
    if posted_on > today:
        raise ChannelRefused(lazy_gettext("The day the answer was posted cannot be in the future."))
    ready_status = Status.DENIED if refusal else Status.READY_TO_SEND
    ready_at = db_session.exec(
        select(func.max(RequestEvent.at)).where(
            RequestEvent.request_id == request.id,
            RequestEvent.to_status == ready_status.value,
        )
    ).one()
    ready_at = ready_at or request.received_at
    if posted_on < ready_at.astimezone(zone).date():
        raise ChannelRefused(
            lazy_gettext("The answer cannot have been posted before it was ready to send.")
        )
    at = max(posted_moment(posted_on, now=now, zone=zone), ready_at)
    details: dict[str, object] = {"posted_on": posted_on.isoformat()}
    if refusal:  # no step left in the workflow: the refusal letter answers the request
        check_version(request, version_id)
        request.answered_at = at
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.STAFF,
            actor_label=staff_label,
            action=ANSWER_POSTED_ACTION,
            at=at,
            from_status=Status.DENIED,
            details={**details, "refusal": True},
        )
        flush_change(db_session)
        return

    def mark_answered(fact: AuditFact) -> None:
        request.answered_at = fact.at

    _step(
        db_session,
        request,
        Action.ANSWER_POSTED,
        version_id=version_id,
        staff_label=staff_label,
        now=at,
        details=details,
        also=mark_answered,
    )
