"""The emails staff receive (an invitation, a password reset link), rendered from
templates/emails/staff_<kind>.<language>.{txt,html} like the requesters' emails, and queued in
the outbox in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from sqlmodel import Session

from dsr.accounts.models import StaffRole
from dsr.languages import Language
from dsr.outbox.service import enqueue
from dsr.requests.emails import RenderedEmail, email_environment

_environment = email_environment()


class StaffEmail(StrEnum):
    INVITATION = "staff_invitation"
    PASSWORD_RESET = "staff_password_reset"  # noqa: S105 (a name, not a secret)


SUBJECTS: Mapping[StaffEmail, Mapping[Language, str]] = MappingProxyType(
    {
        StaffEmail.INVITATION: {
            Language.FR: "Votre compte sur le bureau des demandes RGPD",
            Language.EN: "Your account on the GDPR requests desk",
        },
        StaffEmail.PASSWORD_RESET: {
            Language.FR: "Choisir un nouveau mot de passe",
            Language.EN: "Choose a new password",
        },
    }
)

ROLE_NAMES: Mapping[Language, Mapping[StaffRole, str]] = MappingProxyType(
    {
        Language.FR: {
            StaffRole.ADMIN: "administrateur ou administratrice",
            StaffRole.DPO: "délégué ou déléguée à la protection des données",
            StaffRole.AUDITOR: "auditeur ou auditrice (en lecture seule)",
        },
        Language.EN: {
            StaffRole.ADMIN: "an administrator",
            StaffRole.DPO: "a privacy officer",
            StaffRole.AUDITOR: "an auditor (read only)",
        },
    }
)
"""Each role as the invitation names it, after "comme" or "as"."""


def render_staff_email(kind: StaffEmail, language: Language, **context: object) -> RenderedEmail:
    language = Language(language)
    values = {"language": language.value, **context}
    return RenderedEmail(
        subject=SUBJECTS[kind][language],
        text=_environment.get_template(f"{kind.value}.{language.value}.txt").render(values),
        html=_environment.get_template(f"{kind.value}.{language.value}.html").render(values),
    )


def queue_staff_email(
    *,
    db_session: Session,
    kind: StaffEmail,
    to: str,
    language: Language,
    now: datetime,
    **context: object,
) -> None:
    """Queue one staff email in the caller's transaction."""
    email = render_staff_email(kind, language, **context)
    enqueue(
        db_session=db_session,
        to=to,
        subject=email.subject,
        text=email.text,
        html=email.html,
        language=language,
        dedup_key=None,
        now=now,
    )
