"""What the requester's status page says of the answer once it was delivered (R47): what was
sent, the change applied in the map's words, and whether a new download link can be emailed.
Gathered here so that the template only renders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dsr.datamap import desk_map
from dsr.delivery.renewal import can_renew_link
from dsr.delivery.service import link_of
from dsr.execution.changes import CHANGE_OF_TYPE
from dsr.i18n import lazy_gettext
from dsr.requests.models import AnswerChannel, DataRequest
from dsr.requests.workflow import RequestType, Status
from inventory.loader import MapError

_CHANGED = lazy_gettext("We sent you an email saying what was changed:")
WHAT_WAS_SENT: Mapping[RequestType, str] = {
    RequestType.ACCESS: lazy_gettext("We sent you an email with a link to download your data."),
    RequestType.PORTABILITY: lazy_gettext(
        "We sent you an email with a link to download your data."
    ),
    RequestType.ERASURE: lazy_gettext(
        "We sent you the certificate of the erasure by email: what was erased and what we must "
        "keep, and why."
    ),
    RequestType.RECTIFICATION: lazy_gettext(
        "We sent you an email saying which of your data were corrected."
    ),
    RequestType.RESTRICTION: _CHANGED,
    RequestType.OBJECTION: _CHANGED,
    RequestType.DEACTIVATION: _CHANGED,
    RequestType.OBJECTION_LEGITIMATE_INTEREST: lazy_gettext(
        "We sent you an email saying what we decided on your objection and what stops."
    ),
    RequestType.POST_MORTEM: lazy_gettext(
        "We sent you an email acknowledging your directives and the person you designated."
    ),
}
"""What the answer of each type of request was, once it is delivered."""

POSTED = lazy_gettext("We posted our answer to the address you gave.")
"""What the answer of a request answered by post was (R44): a letter, never an email."""


@dataclass(frozen=True, slots=True)
class SentAnswer:
    """The answer of a completed request as its status page shows it."""

    what: str
    change_applied: str | None
    link_until: datetime | None
    can_renew_link: bool


def change_applied(request: DataRequest, settings: Mapping[str, Any]) -> str | None:
    """Return the map's words for the change the request applied, in the requester's language."""
    name = CHANGE_OF_TYPE.get(request.type)
    if name is None:
        return None
    try:
        change = getattr(desk_map(settings).changes, name, None)
    except MapError:  # the page still says what was sent; staff see the map's problem elsewhere
        return None
    return None if change is None else change.description.get(request.language.value)


def sent_answer(
    db_session: Session, request: DataRequest, *, settings: Mapping[str, Any], now: datetime
) -> SentAnswer | None:
    """Return what the status page says of the answer; None until the request is answered."""
    if request.status is not Status.COMPLETED:
        return None
    if request.answer_channel is AnswerChannel.POST:
        return SentAnswer(
            what=POSTED,
            change_applied=change_applied(request, settings),
            link_until=None,
            can_renew_link=False,
        )
    link = link_of(db_session, request.id)
    return SentAnswer(
        what=WHAT_WAS_SENT[request.type],
        change_applied=change_applied(request, settings),
        link_until=link.expires_at if link is not None else None,
        can_renew_link=can_renew_link(db_session, request, now=now),
    )
