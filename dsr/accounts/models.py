"""The staff who work the desk: their accounts, roles, second factor and recovery codes.

Secrets are never stored as given: the password as an argon2 hash, the TOTP secret encrypted
(`dsr.accounts.totp.secret_box`), recovery codes as SHA-256 digests. `session_token` is part of
the login session's id: changing it (password change, logout, deactivation) ends every session.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from dsr.addresses import EMAIL_MAX
from dsr.db import UTCDateTime, string_enum

NAME_MAX = 200
SESSION_TOKEN_BYTES = 16


class StaffRole(StrEnum):
    """What a staff member may do: admin (staff and settings), dpo (works the requests),
    auditor (reads everything, changes nothing)."""

    ADMIN = "admin"
    DPO = "dpo"
    AUDITOR = "auditor"


WORKING_ROLES: tuple[StaffRole, ...] = (StaffRole.ADMIN, StaffRole.DPO)
"""Who works requests and tasks (acts, is assigned, creates and completes tasks); auditors read."""


def new_session_token() -> str:
    """Return a fresh random value for `StaffUser.session_token`."""
    return secrets.token_hex(SESSION_TOKEN_BYTES)


def shown_name(name: str | None, email: str) -> str:
    """How a member of staff is named on the pages: their name, or their address without one
    (also for staff read as plain columns, not as accounts)."""
    return name or email


class StaffUser(SQLModel, table=True):
    """One staff account. `password_hash` is None while an invitation waits to be accepted."""

    __tablename__ = "dsr_staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX, unique=True)  # normalized: trimmed, lower-case
    name: str = Field(default="", max_length=NAME_MAX)
    role: StaffRole = Field(sa_type=string_enum(StaffRole, "role"))
    password_hash: str | None = Field(default=None, max_length=255)
    active: bool = Field(default=True)
    totp_secret: str | None = Field(default=None, max_length=255, repr=False)
    totp_enabled: bool = Field(default=False)
    totp_last_step: int | None = Field(default=None)  # the last code used cannot be replayed
    failed_login_count: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    session_token: str = Field(default_factory=new_session_token, max_length=64, repr=False)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    # --- what Flask-Login asks of a user ---------------------------------------------------

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active and self.password_hash is not None

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Return the id kept in the session: the account and its current session token."""
        return f"{self.id}:{self.session_token}"

    @property
    def shown_name(self) -> str:
        return shown_name(self.name, self.email)

    @property
    def invitation_pending(self) -> bool:
        return self.password_hash is None


class StaffRecoveryCode(SQLModel, table=True):
    """A single-use code that replaces the TOTP code once, e.g. after losing the phone."""

    __tablename__ = "dsr_staff_recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="dsr_staff_user.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
