"""The signed links of the requester's emails: the verification link, signed and dated with the
desk's secret key, and the URLs of the verification and status pages. A link carries only an
opaque token, never personal data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from dsr.links import public_url
from dsr.requests.checks import RequestError

VERIFY_SALT = "dsr-verify"
DEFAULT_LINK_MAX_AGE = timedelta(hours=48)
TOKEN_MAX = 512
"""Longer tokens are refused before any work: ours are about 100 characters."""


class LinkInvalid(RequestError):
    """The link was altered, truncated, or signed with another key."""

    default_message = (
        "This link is not valid: check that you copied it whole from the email, or ask for a "
        "new one."
    )


class LinkExpired(RequestError):
    """The link is too old, or a newer one replaced it: ask for a new one."""

    default_message = (
        "This link has expired: ask for a new one with the same email address, and use it "
        "soon after it arrives."
    )


class LinkUsed(RequestError):
    """The link was already clicked: the request is already verified."""

    default_message = (
        "This link has already been used: your email address is confirmed. Follow your request "
        "with the link in the confirmation email."
    )


# --- signed links -------------------------------------------------------------------------------


class _SignerAt(TimestampSigner):
    """A timestamp signer whose clock is the caller's `now`, so links age in the caller's time."""

    def __init__(self, *args: Any, issued_at: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._issued_at = issued_at

    def get_timestamp(self) -> int:
        return super().get_timestamp() if self._issued_at is None else self._issued_at


@dataclass(frozen=True, slots=True)
class VerificationClaim:
    """What a valid verification token says: which request, which nonce, and when it was issued."""

    request_id: int
    nonce: str
    issued_at: datetime


class LinkSigner:
    """Sign and read verification links; build the URLs of the verification and status pages.

    `verify_url` and `status_url` turn a token into an absolute URL (e.g. with Flask's url_for).
    """

    def __init__(
        self,
        secret_key: str,
        *,
        max_age: timedelta = DEFAULT_LINK_MAX_AGE,
        verify_url: Callable[[str], str],
        status_url: Callable[[str], str],
    ) -> None:
        if not secret_key:
            raise ValueError("links need a secret key")
        if max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        self._secret_key = secret_key
        self.max_age = max_age
        self.verify_url = verify_url
        self.status_url = status_url

    def verification_token(self, *, request_id: int, nonce: str, now: datetime) -> str:
        """Return the signed token of one verification link, issued at `now`."""
        issued_at = int(now.timestamp())
        serializer = URLSafeTimedSerializer(
            self._secret_key,
            salt=VERIFY_SALT,
            signer=_SignerAt,
            signer_kwargs={"issued_at": issued_at},
        )
        token: str = serializer.dumps([request_id, nonce])
        return token

    def read_verification_token(self, token: str) -> VerificationClaim:
        """Return what `token` says; raise LinkInvalid unless it is intact and ours."""
        if not token or len(token) > TOKEN_MAX:
            raise LinkInvalid()
        serializer = URLSafeTimedSerializer(self._secret_key, salt=VERIFY_SALT)
        try:
            payload, issued_at = serializer.loads(token, return_timestamp=True)
        except (BadSignature, UnicodeError):
            raise LinkInvalid() from None
        match payload:
            case [int() as request_id, str() as nonce] if not isinstance(request_id, bool):
                return VerificationClaim(request_id, nonce, issued_at.astimezone(UTC))
        raise LinkInvalid()


def current_links() -> LinkSigner:
    """Return the signer of the running application: its secret key, the lifetime of its
    verification links and its public pages (needs an application context, not a request)."""
    hours = int(current_app.config["VERIFICATION_LINK_MAX_AGE_HOURS"])
    return LinkSigner(
        str(current_app.config["SECRET_KEY"]),
        max_age=timedelta(hours=hours),
        verify_url=lambda token: public_url("public.verify", token=token),
        status_url=lambda token: public_url("public.status", token=token),
    )
