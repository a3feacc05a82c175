"""The emails a requester receives: their names (one template pair each in dsr/templates/emails/,
rendered by the outbox) and how they call each type of request."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from dsr.languages import N_, Language, translations
from dsr.requests.workflow import RequestType


class EmailKind(StrEnum):
    """The emails sent to requesters; each names its pair of templates."""

    VERIFICATION = "verification"  # prove you own the address: a single-use link
    STATUS_LINK = "status_link"  # the address is verified: here is the status page
    CANCELLED = "cancelled"  # the requester cancelled the request
    EXTENDED = "extended"  # staff extended the deadline: the new date and the reasons (R4)
    ASKED = "asked"  # staff need more information: the question; the deadline pauses
    IDENTITY_REQUESTED = "identity_requested"  # staff ask for an identity document, and why
    DENIED = "denied"  # the refusal: its reasons, the CNIL and the courts (Art. 12(4))
    ERASURE_DONE = "erasure_done"  # the data is erased: what went, what was kept and why (R17)
    CHANGE_DONE = "change_done"  # a targeted change (deactivation, objection...) is applied
    RESTRICTION_LIFT = "restriction_lift"  # told before a restriction is lifted (Art. 18(3))
    RECIPIENTS_TOLD = "recipients_told"  # each recipient was told of the change (Art. 19)
    DIRECTIVES_RECORDED = "directives_recorded"  # post-mortem directives acknowledged (art. 85)


_TYPE_PHRASES: Mapping[RequestType, str] = MappingProxyType(
    {
        RequestType.ACCESS: N_("access to your data"),
        RequestType.PORTABILITY: N_("portability of your data"),
        RequestType.ERASURE: N_("erasure of your data"),
        RequestType.RECTIFICATION: N_("rectification of your data"),
        RequestType.RESTRICTION: N_("restriction of the processing of your data"),
        RequestType.OBJECTION: N_("objection to direct marketing"),
        RequestType.DEACTIVATION: N_("deactivation of your account"),
        RequestType.OBJECTION_LEGITIMATE_INTEREST: N_(
            "objection to processing based on our legitimate interests"
        ),
        RequestType.POST_MORTEM: N_("post-mortem directives on your data"),
    }
)


def type_phrase(kind: RequestType, language: Language) -> str:
    """Return what the emails call a request of type `kind`, as it follows "request for" (in
    French, "demande" with its preposition, which French elides: "d'accès à vos données")."""
    return translations(language).gettext(_TYPE_PHRASES[kind])
