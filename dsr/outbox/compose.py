"""Assemble outgoing emails: plain text plus optional HTML, UTF-8, with safe headers.

Bodies arrive already rendered (the HTML by autoescaping Jinja templates); this module only builds
the MIME structure. The only personal data in the headers is the recipient's bare address in To.
"""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.utils import format_datetime

_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def compose_email(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    message_id_domain: str,
    message_id: str | None = None,
    date: datetime | None = None,
    language: str | None = None,
) -> EmailMessage:
    """Return a message ready for `send_email`: multipart/alternative when `html` is given.

    `sender` is a mailbox, optionally with a display name ("Privacy desk <dpo@example.org>");
    `to` is one bare address. Pass the stored `message_id` to keep it across retries (otherwise a
    random one in `message_id_domain`), and `date` (aware) for reproducible output.
    Raise ValueError on a line break in a header value or an address that does not parse.
    """
    for name, value in (
        ("sender", sender),
        ("to", to),
        ("subject", subject),
        ("message_id_domain", message_id_domain),
        ("message_id", message_id or ""),
        ("language", language or ""),
    ):
        if any(character in _LINE_BREAKS for character in value):
            raise ValueError(f"line break in the {name} header value")
    if date is not None and date.utcoffset() is None:
        raise ValueError("the date must be timezone-aware")

    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _mailbox(sender)
    message["To"] = _bare_address(to)
    message["Subject"] = subject
    message["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    message["Message-ID"] = message_id or f"<{secrets.token_hex(16)}@{message_id_domain}>"
    # RFC 3834: tells vacation responders and mailing lists not to answer automatically.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps the message 7-bit: no reliance on the server's 8BITMIME.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if language:  # after the content, which replaces every Content-* header
        message["Content-Language"] = language
    return message


def _bare_address(address: str) -> Address:
    """Return `address` as an Address with no display name, or raise ValueError."""
    try:
        parsed = Address(addr_spec=address.strip())
    except (HeaderParseError, IndexError, ValueError):
        raise ValueError("the recipient is not a valid email address") from None
    if not parsed.username or not parsed.domain:
        raise ValueError("the recipient is not a valid email address")
    return parsed


@functools.lru_cache(maxsize=8)
def _mailbox(mailbox: str) -> str:
    """Return `mailbox` ("Name <addr>" or "addr") checked to hold exactly one address (once per
    sender: every message of a desk has the same)."""
    header = policy.SMTP.header_factory("From", mailbox)
    if (
        header.defects
        or not isinstance(header, AddressHeader)
        or len(header.addresses) != 1
        or not header.addresses[0].domain
    ):
        raise ValueError("the sender is not a valid mailbox")
    return mailbox
