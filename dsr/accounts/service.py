"""What can happen to a staff account: creation and invitation, login with its throttling and
second factor, password changes and the signed links that reset a password or accept an
invitation. Functions flush; the caller commits.

A failed login always looks the same from outside: wrong password, unknown address or inactive
account all give `None` after the same amount of work (one argon2 verification). How often one
may try is the throttle's (dsr/accounts/throttle.py), per account and address: no lock that
anyone could set on an account.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session, col, select

from dsr.accounts import totp
from dsr.accounts.models import StaffRecoveryCode, StaffRole, StaffUser, new_session_token
from dsr.addresses import EMAIL_MAX, normalize_email
from dsr.sealing import SecretBox

PASSWORD_MIN = 12
PASSWORD_MAX = 256

password_hasher = PasswordHasher()
"""argon2id with argon2-cffi's defaults (RFC 9106's second recommendation)."""


@functools.cache
def _dummy_hash() -> str:
    """Return the hash checked when no account matches, so that an unknown address costs the
    same hash verification as a known one; made on the first login check, not at import (it
    would add a hash's time to every `dsr` command and every worker's start)."""
    return password_hasher.hash("a password that no account has")


class AccountError(Exception):
    """A change a person asked for and cannot have; the message is written for them."""


class WeakPassword(AccountError):
    pass


class StaffExists(AccountError):
    pass


class LinkInvalid(AccountError):
    """The link was altered, is for another purpose, or its account cannot use it."""


class LinkExpired(AccountError):
    pass


class LinkUsed(AccountError):
    """The link did its job already (its password was set since)."""


# --- passwords ----------------------------------------------------------------------------------


def check_password_strength(password: str) -> None:
    """Raise WeakPassword unless `password` is long enough to resist guessing."""
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"A password has at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        raise WeakPassword(f"A password has at most {PASSWORD_MAX} characters.")
    if len(set(password)) < 4:
        raise WeakPassword("This password repeats too few characters: choose another one.")


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def _password_matches(stored: str | None, password: str) -> bool:
    dummy = _dummy_hash()  # made (once) on either path: the first check costs the same for both
    try:
        return password_hasher.verify(stored or dummy, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def password_matches(user: StaffUser, password: str) -> bool:
    """Tell whether `password` is the account's password (e.g. to confirm a sensitive change)."""
    return _password_matches(user.password_hash, password)


def set_password(user: StaffUser, password: str, *, now: datetime) -> None:
    """Give `user` a new password: every session and every link issued before ends."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.session_token = new_session_token()
    user.failed_login_count = 0
    user.locked_until = None


# --- accounts -----------------------------------------------------------------------------------


def find_staff(*, db_session: Session, email: str) -> StaffUser | None:
    address = normalize_email(email)
    if not address or len(address) > EMAIL_MAX:
        return None
    return db_session.exec(select(StaffUser).where(StaffUser.email == address)).one_or_none()


def get_staff(*, db_session: Session, staff_id: int) -> StaffUser | None:
    return db_session.get(StaffUser, staff_id)


def list_staff(*, db_session: Session) -> list[StaffUser]:
    return list(db_session.exec(select(StaffUser).order_by(col(StaffUser.email))).all())


def create_staff(
    *,
    db_session: Session,
    email: str,
    role: StaffRole,
    now: datetime,
    name: str = "",
    password: str | None = None,
) -> StaffUser:
    """Add an account; without a password it is an invitation waiting to be accepted."""
    address = normalize_email(email)
    if find_staff(db_session=db_session, email=address) is not None:
        raise StaffExists("A staff account with this email address exists already.")
    user = StaffUser(email=address, name=name.strip(), role=StaffRole(role), created_at=now)
    if password is not None:
        set_password(user, password, now=now)
    db_session.add(user)
    db_session.flush()
    return user


def set_active(user: StaffUser, active: bool) -> None:
    """Deactivate (ending every session) or reactivate an account."""
    user.active = active
    user.session_token = new_session_token()


# --- login --------------------------------------------------------------------------------------


def record_failure(user: StaffUser) -> None:
    """Count a failed attempt on the account since its last login (for the record: it locks
    nothing, the throttle slows down the address that fails)."""
    user.failed_login_count += 1


def check_password(*, db_session: Session, email: str, password: str) -> StaffUser | None:
    """Return the account if `password` is its password and it may log in; else None (a wrong
    password is counted on the account)."""
    user = find_staff(db_session=db_session, email=email)
    matches = _password_matches(user.password_hash if user else None, password)
    if user is None or not user.is_active:
        return None
    if not matches:
        record_failure(user)
        db_session.flush()
        return None
    assert user.password_hash is not None  # noqa: S101 (is_active says so)
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def check_second_factor(
    *,
    db_session: Session,
    user: StaffUser,
    code: str,
    now: datetime,
    box: SecretBox,
) -> bool:
    """Tell whether `code` is the current TOTP code or an unused recovery code of `user`.

    A recovery code is used up; a TOTP code cannot be replayed; a wrong code counts as a
    failed attempt.
    """
    if not user.is_active:
        return False
    accepted = _totp_code_matches(user, code, now=now, box=box) or _use_recovery_code(
        db_session=db_session, user=user, code=code, now=now
    )
    if not accepted:
        record_failure(user)
    db_session.flush()
    return accepted


def _totp_code_matches(user: StaffUser, code: str, *, now: datetime, box: SecretBox) -> bool:
    secret = box.open(user.totp_secret) if user.totp_secret else None
    if secret is None:
        return False
    step = totp.matching_step(secret, code, at=now, after_step=user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def _use_recovery_code(*, db_session: Session, user: StaffUser, code: str, now: datetime) -> bool:
    if not totp.looks_like_recovery_code(code):
        return False
    found = db_session.exec(
        select(StaffRecoveryCode).where(
            StaffRecoveryCode.staff_id == user.id,
            StaffRecoveryCode.code_hash == totp.recovery_code_digest(code),
            col(StaffRecoveryCode.used_at).is_(None),
        )
    ).one_or_none()
    if found is None:
        return False
    found.used_at = now
    return True


def record_login(user: StaffUser, *, now: datetime) -> None:
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now


# --- second factor ------------------------------------------------------------------------------


def pending_totp_secret(user: StaffUser, *, box: SecretBox) -> str:
    """Return the secret being enrolled, choosing one on the first visit (kept until confirmed,
    so that reloading the page does not change the QR code)."""
    secret = box.open(user.totp_secret) if user.totp_secret else None
    if secret is None or user.totp_enabled:
        secret = totp.new_secret()
        user.totp_secret = box.seal(secret)
        user.totp_enabled = False
        user.totp_last_step = None
    return secret


def confirm_totp(
    *, db_session: Session, user: StaffUser, code: str, now: datetime, box: SecretBox
) -> list[str] | None:
    """Turn the second factor on once the app shows the right code; return the new recovery
    codes (to be shown once), or None when the code is wrong."""
    if user.totp_enabled or not _totp_code_matches(user, code, now=now, box=box):
        return None
    user.totp_enabled = True
    return replace_recovery_codes(db_session=db_session, user=user)


def replace_recovery_codes(*, db_session: Session, user: StaffUser) -> list[str]:
    """Give `user` new recovery codes, voiding the old ones; return them to be shown once."""
    for old in db_session.exec(
        select(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id)
    ).all():
        db_session.delete(old)
    codes = totp.new_recovery_codes()
    assert user.id is not None  # noqa: S101 (a stored account)
    for code in codes:
        db_session.add(
            StaffRecoveryCode(staff_id=user.id, code_hash=totp.recovery_code_digest(code))
        )
    db_session.flush()
    return codes


def unused_recovery_codes(*, db_session: Session, user: StaffUser) -> int:
    return len(
        db_session.exec(
            select(StaffRecoveryCode.id).where(
                StaffRecoveryCode.staff_id == user.id, col(StaffRecoveryCode.used_at).is_(None)
            )
        ).all()
    )


def reset_second_factor(*, db_session: Session, user: StaffUser) -> None:
    """Turn the second factor off (e.g. a lost phone): the next login enrols a new one."""
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    for old in db_session.exec(
        select(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == user.id)
    ).all():
        db_session.delete(old)
    db_session.flush()


# --- links sent by email ------------------------------------------------------------------------


class LinkPurpose:
    INVITATION = "invitation"
    PASSWORD_RESET = "password-reset"  # noqa: S105 (a name, not a secret)


def _link_state(user: StaffUser) -> str:
    """A short fingerprint of the password: setting one makes every earlier link stale."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


class StaffLinks:
    """Sign and check the single-use, expiring links of invitations and password resets.

    A link holds the account's id, its purpose and a fingerprint of the current password: no
    personal data, and it stops working once a password is set through it.
    """

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="dsr.accounts.links")

    def issue(self, user: StaffUser, purpose: str) -> str:
        return self._serializer.dumps({"s": user.id, "p": purpose, "v": _link_state(user)})

    def resolve(
        self, token: str, *, purpose: str, max_age: timedelta, db_session: Session
    ) -> StaffUser:
        """Return the account a valid link is for; raise LinkInvalid, LinkExpired or LinkUsed."""
        try:
            payload: Any = self._serializer.loads(token, max_age=int(max_age.total_seconds()))
        except SignatureExpired:
            raise LinkExpired("This link has expired.") from None
        except BadSignature:
            raise LinkInvalid("This link is not valid.") from None
        if not isinstance(payload, dict) or payload.get("p") != purpose:
            raise LinkInvalid("This link is not valid.")
        staff_id = payload.get("s")
        user = db_session.get(StaffUser, staff_id) if isinstance(staff_id, int) else None
        if user is None or not user.active:
            raise LinkInvalid("This link is not valid.")
        if payload.get("v") != _link_state(user):
            raise LinkUsed("This link has already been used.")
        if purpose == LinkPurpose.INVITATION and not user.invitation_pending:
            raise LinkUsed("This link has already been used.")
        if purpose == LinkPurpose.PASSWORD_RESET and user.invitation_pending:
            raise LinkInvalid("This link is not valid.")
        return user
