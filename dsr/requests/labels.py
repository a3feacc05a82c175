"""The names of request types and statuses as requesters and staff read them, in the current
locale; `init_app` gives them to every template."""

from __future__ import annotations

from collections.abc import Mapping
from gettext import NullTranslations
from types import MappingProxyType

from flask import Flask

from dsr.i18n import lazy_gettext
from dsr.languages import Language, translations
from dsr.requests.extension_grounds import ExtensionGround
from dsr.requests.models import AnswerChannel, DataRequest
from dsr.requests.workflow import RequestType, Status

N_ = str
"""Marks a message id for the catalogue (pybabel extracts N_) without translating it here."""

REQUEST_TYPE_LABELS: Mapping[RequestType, str] = MappingProxyType(
    {
        RequestType.ACCESS: lazy_gettext("Get a copy of my data"),
        RequestType.PORTABILITY: lazy_gettext("Export my data in a reusable format"),
        RequestType.ERASURE: lazy_gettext("Erase my data"),
        RequestType.RECTIFICATION: lazy_gettext("Correct my data"),
        RequestType.RESTRICTION: lazy_gettext("Restrict the use of my data"),
        RequestType.OBJECTION: lazy_gettext("Stop marketing messages"),
        RequestType.DEACTIVATION: lazy_gettext("Deactivate my account"),
        RequestType.OBJECTION_LEGITIMATE_INTEREST: lazy_gettext(
            "Object to a use of my data based on your legitimate interests"
        ),
        RequestType.POST_MORTEM: lazy_gettext("Give directives for my data after my death"),
    }
)
"""What a requester asks for, in their words."""

STATUS_LABELS: Mapping[Status, str] = MappingProxyType(
    {
        Status.RECEIVED: lazy_gettext("Waiting for you to confirm your email address"),
        Status.VERIFIED: lazy_gettext("Received, waiting to be reviewed"),
        Status.IN_REVIEW: lazy_gettext("Being reviewed"),
        Status.AWAITING_REQUESTER: lazy_gettext("Waiting for your answer"),
        Status.APPROVED: lazy_gettext("Approved"),
        Status.PROCESSING: lazy_gettext("Being carried out"),
        Status.READY_TO_SEND: lazy_gettext("Carried out: we will send you our answer by email"),
        Status.COMPLETED: lazy_gettext("Completed"),
        Status.DENIED: lazy_gettext("Refused"),
        Status.FAILED: lazy_gettext("Delayed by a technical problem: we are on it"),
        Status.EXPIRED: lazy_gettext("Expired: the email address was never confirmed"),
        Status.CANCELLED: lazy_gettext("Cancelled"),
    }
)
"""Where a request stands, as its requester reads it."""

POSTED_STATUS_LABELS: Mapping[Status, str] = MappingProxyType(
    {
        Status.READY_TO_SEND: lazy_gettext(
            "Carried out: we will post our answer to the address you gave"
        ),
    }
)
"""The statuses a request answered by post (R44) names otherwise: no answer goes by email."""


def requester_status_label(request: DataRequest) -> str:
    """Where `request` stands in its requester's words, true to how its answer goes."""
    if request.answer_channel is AnswerChannel.POST:
        label = POSTED_STATUS_LABELS.get(request.status)
        if label is not None:
            return label
    return STATUS_LABELS[request.status]


_STAFF_STATUS_MESSAGES: Mapping[Status, str] = MappingProxyType(
    {
        Status.RECEIVED: N_("Awaiting email confirmation"),
        Status.VERIFIED: N_("Verified, to review"),
        Status.IN_REVIEW: N_("In review"),
        Status.AWAITING_REQUESTER: N_("Awaiting the requester"),
        Status.APPROVED: N_("Approved"),
        Status.PROCESSING: N_("Processing"),
        Status.READY_TO_SEND: N_("Ready to send (not yet answered)"),
        Status.COMPLETED: N_("Completed"),
        Status.DENIED: N_("Denied"),
        Status.FAILED: N_("Failed"),
        Status.EXPIRED: N_("Expired (never verified)"),
        Status.CANCELLED: N_("Cancelled"),
    }
)
"""The message ids of the dashboard's status names (N_ marks them for the catalogue)."""

STAFF_STATUS_LABELS: Mapping[Status, str] = MappingProxyType(
    {status: lazy_gettext(message) for status, message in _STAFF_STATUS_MESSAGES.items()}
)
"""Where a request stands, as staff read it on the dashboard."""

EXTENSION_GROUND_LABELS: Mapping[ExtensionGround, str] = MappingProxyType(
    {
        ExtensionGround.COMPLEXITY: lazy_gettext("The complexity of the request"),
        ExtensionGround.NUMBER_OF_REQUESTS: lazy_gettext("The number of requests"),
    }
)
"""The grounds of an extension (Art. 12(3)), as staff choose and read them."""


def type_name(kind: RequestType, t: NullTranslations) -> str:
    """The name of a request's type in the registers and staff emails ("Access", "Erasure")."""
    return {
        RequestType.ACCESS: t.pgettext("request register", "Access"),
        RequestType.PORTABILITY: t.pgettext("request register", "Portability"),
        RequestType.ERASURE: t.pgettext("request register", "Erasure"),
        RequestType.RECTIFICATION: t.pgettext("request register", "Rectification"),
        RequestType.RESTRICTION: t.pgettext("request register", "Restriction"),
        RequestType.OBJECTION: t.pgettext("request register", "Objection to marketing"),
        RequestType.DEACTIVATION: t.pgettext("request register", "Account deactivation"),
        RequestType.OBJECTION_LEGITIMATE_INTEREST: t.pgettext(
            "request register", "Objection (legitimate interests)"
        ),
        RequestType.POST_MORTEM: t.pgettext("request register", "Post-mortem directives"),
    }[kind]


def staff_status_message(status: Status) -> str:
    """The message id of the dashboard's name of `status`, for a catalogue at hand."""
    return _STAFF_STATUS_MESSAGES[status]


def staff_status_name(status: Status, language: Language) -> str:
    """The dashboard's name of `status` in `language`, outside any web request (staff emails)."""
    return translations(language).gettext(_STAFF_STATUS_MESSAGES[status])


def init_app(app: Flask) -> None:
    """Let templates name a request's type and status: `request_type_label`, `status_label` (the
    requester's words; `requester_status_label` of a request, true to how it is answered) and
    `staff_status_label` (the dashboard's), and an extension's ground: `extension_ground_label`."""
    app.jinja_env.globals.update(
        request_type_label=REQUEST_TYPE_LABELS.__getitem__,
        status_label=STATUS_LABELS.__getitem__,
        requester_status_label=requester_status_label,
        staff_status_label=STAFF_STATUS_LABELS.__getitem__,
        extension_ground_label=EXTENSION_GROUND_LABELS.__getitem__,
    )
