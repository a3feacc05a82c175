"""Email addresses as the desk stores and compares them: the longest it accepts and the one form
under which two spellings of an address are the same requester, suppression entry or staff member.
"""

from __future__ import annotations

EMAIL_MAX = 254
"""The longest address the desk accepts (RFC 5321's limit on a forward path)."""


def normalize_email(address: str) -> str:
    """Return the form of an address used to compare requests: trimmed and lower-cased."""
    return address.strip().lower()
