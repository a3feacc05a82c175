"""The second factor: TOTP codes (RFC 6238, as authenticator apps make them), the QR code that
enrols an app, the encryption of the stored secret, and single-use recovery codes.

Pure functions of their inputs: no Flask, no database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno

from dsr.sealing import SecretBox

STEP_SECONDS = 30
ACCEPTED_DRIFT_STEPS = 1
"""A code of the previous or next 30-second step is accepted too: phones' clocks drift."""

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_LENGTH = 4
_SIX_DIGITS = re.compile(r"^\d{6}$")


def new_secret() -> str:
    """Return a new random TOTP secret (160 bits, base32 as apps expect it)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """Return the otpauth:// URI that an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def time_step(at: datetime) -> int:
    """Return the number of the 30-second step `at` falls in."""
    return int(at.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, *, at: datetime, after_step: int | None) -> int | None:
    """Return the step whose code `code` is, if it is current (give or take one step) and newer
    than `after_step` (a code already used cannot be used again); else None."""
    code = re.sub(r"\s", "", code)
    if not _SIX_DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = time_step(at)
    for step in range(current - ACCEPTED_DRIFT_STEPS, current + ACCEPTED_DRIFT_STEPS + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, at: datetime) -> str:
    """Return the code an authenticator app shows at `at` (for tests and the enrolment check)."""
    return pyotp.TOTP(secret).generate_otp(time_step(at))


def qr_svg(uri: str, *, title: str) -> str:
    """Return an inline SVG of the QR code of `uri`: drawn on the server, no script needed."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, title=title, svgclass="qr-code"))


TOTP_SECRET_PURPOSE = b"dsr.accounts.totp-secret"


def secret_box(key_material: str) -> SecretBox:
    """Return the box of the TOTP secrets kept in the store, so that a copy of the database alone
    does not give the second factor away."""
    return SecretBox(key_material, TOTP_SECRET_PURPOSE)


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Return `count` new recovery codes like `k3mf-9qtx-b2wp` (about 59 bits each)."""
    return [
        "-".join(
            "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LENGTH))
            for _ in range(_RECOVERY_GROUPS)
        )
        for _ in range(count)
    ]


def normalize_recovery_code(text: str) -> str:
    """Return a typed recovery code as generated: lower-case, grouped, spaces dropped."""
    letters = re.sub(r"[^a-z0-9]", "", text.lower())
    size = _RECOVERY_GROUP_LENGTH
    return "-".join(letters[i : i + size] for i in range(0, len(letters), size))


def looks_like_recovery_code(text: str) -> bool:
    normalized = normalize_recovery_code(text)
    return len(normalized) == _RECOVERY_GROUPS * (_RECOVERY_GROUP_LENGTH + 1) - 1


def recovery_code_digest(code: str) -> str:
    """Return the digest under which a recovery code is stored (the codes are random enough for
    a plain SHA-256)."""
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()
