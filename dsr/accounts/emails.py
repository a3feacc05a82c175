"""The emails staff receive (an invitation, a password reset link), rendered by the outbox from
dsr/templates/emails/staff_<kind>.{txt,html} like the requesters' emails, and queued in the outbox
in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from sqlmodel import Session

from dsr.accounts.models import StaffRole
from dsr.languages import N_, Language, translations
from dsr.outbox.emails import render_email
from dsr.outbox.service import enqueue


class StaffEmail(StrEnum):
    INVITATION = "staff_invitation"
    PASSWORD_RESET = "staff_password_reset"  # noqa: S105 (a name, not a secret)


_ROLE_PHRASES: Mapping[StaffRole, str] = MappingProxyType(
    {
        StaffRole.ADMIN: N_("an administrator"),
        StaffRole.DPO: N_("a privacy officer"),
        StaffRole.AUDITOR: N_("an auditor (read only)"),
    }
)


def role_phrase(role: StaffRole, language: Language) -> str:
    """Return `role` as the invitation names it, after "as" (in French, after "comme")."""
    return translations(language).gettext(_ROLE_PHRASES[role])


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
    email = render_email(kind, language, **context)
    enqueue(
        db_session=db_session,
        to=to,
        email=email,
        language=language,
        dedup_key=None,
        now=now,
    )
