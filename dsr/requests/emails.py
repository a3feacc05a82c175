"""The emails a requester receives, rendered in their language from templates/emails/.

Each email is a pair of templates, `<name>.<language>.txt` and `<name>.<language>.html`: the
template per language is the catalogue. The HTML is autoescaped, so what a requester typed (their
message, what to correct) is shown as text, never as markup. Subjects are here, per language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dsr.languages import Language
from dsr.requests.workflow import RequestType

EMAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "emails"
"""Where the email templates are: templates/emails/ at the root of the project."""

SHOWN_TIMEZONE = ZoneInfo("Europe/Paris")


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


SUBJECTS: Mapping[EmailKind, Mapping[Language, str]] = MappingProxyType(
    {
        EmailKind.VERIFICATION: {
            Language.FR: "Confirmez votre adresse pour votre demande {reference}",
            Language.EN: "Confirm your email address for your request {reference}",
        },
        EmailKind.STATUS_LINK: {
            Language.FR: "Votre demande {reference} est enregistrée",
            Language.EN: "Your request {reference} is registered",
        },
        EmailKind.CANCELLED: {
            Language.FR: "Votre demande {reference} est annulée",
            Language.EN: "Your request {reference} is cancelled",
        },
        EmailKind.EXTENDED: {
            Language.FR: "Votre demande {reference} : le délai de réponse est prolongé",
            Language.EN: "Your request {reference}: the time to answer is extended",
        },
        EmailKind.ASKED: {
            Language.FR: "Votre demande {reference} : une question avant d'y répondre",
            Language.EN: "Your request {reference}: a question before we answer",
        },
        EmailKind.IDENTITY_REQUESTED: {
            Language.FR: "Votre demande {reference} : justificatif d'identité demandé",
            Language.EN: "Your request {reference}: proof of identity needed",
        },
        EmailKind.DENIED: {
            Language.FR: "Votre demande {reference} est refusée",
            Language.EN: "Your request {reference} is refused",
        },
        EmailKind.ERASURE_DONE: {
            Language.FR: "Votre demande {reference} : vos données sont effacées",
            Language.EN: "Your request {reference}: your data is erased",
        },
        EmailKind.CHANGE_DONE: {
            Language.FR: "Votre demande {reference} est traitée",
            Language.EN: "Your request {reference} is done",
        },
        EmailKind.RESTRICTION_LIFT: {
            Language.FR: "Votre demande {reference} : la limitation du traitement va être levée",
            Language.EN: "Your request {reference}: the restriction of processing will be lifted",
        },
    }
)
"""The subject of each email per language; `{reference}` is the request's public reference."""

TYPE_LABELS: Mapping[Language, Mapping[RequestType, str]] = MappingProxyType(
    {
        Language.FR: {
            RequestType.ACCESS: "d'accès à vos données",
            RequestType.PORTABILITY: "de portabilité de vos données",
            RequestType.ERASURE: "d'effacement de vos données",
            RequestType.RECTIFICATION: "de rectification de vos données",
            RequestType.RESTRICTION: "de limitation du traitement de vos données",
            RequestType.OBJECTION: "d'opposition à la prospection commerciale",
            RequestType.DEACTIVATION: "de désactivation de votre compte",
        },
        Language.EN: {
            RequestType.ACCESS: "access to your data",
            RequestType.PORTABILITY: "portability of your data",
            RequestType.ERASURE: "erasure of your data",
            RequestType.RECTIFICATION: "rectification of your data",
            RequestType.RESTRICTION: "restriction of the processing of your data",
            RequestType.OBJECTION: "objection to direct marketing",
            RequestType.DEACTIVATION: "deactivation of your account",
        },
    }
)
"""What each type of request is called in the emails, as it follows "demande" (with its
preposition, which French elides: "d'accès") or "request for"."""

_MONTHS: Mapping[Language, tuple[str, ...]] = MappingProxyType(
    {
        Language.FR: (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        Language.EN: (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
    }
)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def shown_date(moment: datetime, language: Language) -> str:
    """Return the calendar date of `moment` in Paris as people write it, e.g. "28 février 2026"."""
    local = moment.astimezone(SHOWN_TIMEZONE)
    return f"{local.day} {_MONTHS[Language(language)][local.month - 1]} {local.year}"


def email_environment(folder: Path = EMAIL_TEMPLATES) -> Environment:
    """Return the Jinja environment of the emails: HTML autoescaped, undefined names an error."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_environment = email_environment()


def render_email(
    kind: EmailKind, language: Language, *, reference: str, **context: object
) -> RenderedEmail:
    """Render the subject, text and HTML of one email in `language`."""
    language = Language(language)
    values = {"reference": reference, "language": language.value, **context}
    return RenderedEmail(
        subject=SUBJECTS[kind][language].format(reference=reference),
        text=_environment.get_template(f"{kind.value}.{language.value}.txt").render(values),
        html=_environment.get_template(f"{kind.value}.{language.value}.html").render(values),
    )
