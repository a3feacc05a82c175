"""Assemble outgoing emails: plain text plus optional HTML, UTF-8, with safe headers.

Bodies arrive already rendered (the HTML by autoescaping Jinja templates); this module only builds
the MIME structure. The only personal data in the headers is the recipient's bare address in To.
"""

from __future__ import annotations

import functools
import re
import secrets
import sys
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.quoprimime import body_encode
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
    _check_header_values(
        sender=sender,
        to=to,
        subject=subject,
        message_id_domain=message_id_domain,
        message_id=message_id,
        date=date,
        language=language,
    )
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _mailbox(sender)
    message["To"] = _bare_address(to)
    message["Subject"] = subject
    message["Date"] = _date_value(date)
    message["Message-ID"] = message_id or _new_message_id(message_id_domain)
    # RFC 3834: tells vacation responders and mailing lists not to answer automatically.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps the message 7-bit: no reliance on the server's 8BITMIME.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if language:  # after the content, which replaces every Content-* header
        message["Content-Language"] = language
    return message


def compose_email_bytes(
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
) -> bytes | None:
    """Return the message `compose_email` builds as the bytes smtplib sends for it (7-bit, CRLF
    line ends), written here rather than by the email package's header objects and generator,
    which cost more CPU than the rest of a delivery (issue 17). None when the sender or the
    recipient is not plain ASCII (a dot-atom address): send `compose_email`'s message then.
    Raise ValueError as `compose_email` does."""
    _check_header_values(
        sender=sender,
        to=to,
        subject=subject,
        message_id_domain=message_id_domain,
        message_id=message_id,
        date=date,
        language=language,
    )
    sender_line = _from_line(sender)
    recipient = to.strip()
    if not (sender.isascii() and _PLAIN_ADDRESS.fullmatch(recipient)):
        return None
    headers = [
        sender_line,
        _header_line("To", recipient, _PLAIN_ADDRESS),
        _header_line("Subject", subject, _PLAIN_TEXT),
        _header_line("Date", _date_value(date), _PLAIN_TEXT),
        _header_line("Message-ID", message_id or _new_message_id(message_id_domain), _PLAIN_ID),
        b"Auto-Submitted: auto-generated\r\n",
    ]
    language_line = [_header_line("Content-Language", language, _PLAIN_ID)] if language else []
    if html is None:
        head = b"".join([*headers, _TEXT_PART_HEADERS % b"plain", b"MIME-Version: 1.0\r\n"])
        return head + b"".join(language_line) + b"\r\n" + _quoted_printable(text)
    boundary = f"==============={secrets.randbelow(sys.maxsize):0{_BOUNDARY_DIGITS}d}==".encode()
    head = b"".join(
        [
            *headers,
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n' % boundary,
            *language_line,
        ]
    )
    parts = [
        _TEXT_PART_HEADERS % b"plain" + b"\r\n" + _quoted_printable(text),
        # the email package gives the part it adds the header of a whole message too
        _TEXT_PART_HEADERS % b"html" + b"MIME-Version: 1.0\r\n\r\n" + _quoted_printable(html),
    ]
    separator = b"\r\n--" + boundary + b"\r\n"
    return b"".join(
        [head, b"\r\n--", boundary, b"\r\n", separator.join(parts), b"\r\n--", boundary, b"--\r\n"]
    )


_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
_PLAIN_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")
_PLAIN_ID = re.compile(r"[A-Za-z0-9<>@._+-]+")
"""Header values the email package writes as they are (on one line of at most 78 characters);
any other value is folded by it (`_header_line`)."""
_TEXT_PART_HEADERS = (
    b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
)
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))
"""A multipart boundary is made as the email package makes it: 15 "=", a random number, "=="
(never a line of quoted-printable text, in which "=" starts an escape)."""


def _header_line(name: str, value: str, plain: re.Pattern[str]) -> bytes:
    """Return the header line the email package writes for `value` (policy.SMTP): the value as
    it is when `plain` matches it and the line is short, else folded by the email package."""
    if plain.fullmatch(value) and "=?" not in value and len(name) + len(value) <= 76:
        return f"{name}: {value}\r\n".encode("ascii")
    return policy.SMTP.fold_binary(name, policy.SMTP.header_factory(name, value))


@functools.lru_cache(maxsize=8)
def _from_line(sender: str) -> bytes:
    """Return the From line of `sender` (once per sender: every message of a desk has the same);
    raise ValueError as `_mailbox` does."""
    return policy.SMTP.fold_binary("From", policy.SMTP.header_factory("From", _mailbox(sender)))


def _quoted_printable(text: str) -> bytes:
    """Return `text` as the email package encodes a text part (UTF-8, quoted-printable, lines of
    at most 78 characters, CRLF line ends)."""
    lines = text.encode("utf-8").splitlines()
    encoded = body_encode(b"\n".join(lines).decode("latin-1") + "\n", 78)
    return encoded.replace("\n", "\r\n").encode("ascii")


def _check_header_values(
    *,
    sender: str,
    to: str,
    subject: str,
    message_id_domain: str,
    message_id: str | None,
    date: datetime | None,
    language: str | None,
) -> None:
    """Refuse a line break in a header value (header injection) and a naive date."""
    for name, value in (
        ("sender", sender),
        ("to", to),
        ("subject", subject),
        ("message_id_domain", message_id_domain),
        ("message_id", message_id or ""),
        ("language", language or ""),
    ):
        if not _LINE_BREAKS.isdisjoint(value):
            raise ValueError(f"line break in the {name} header value")
    if date is not None and date.utcoffset() is None:
        raise ValueError("the date must be timezone-aware")


def _date_value(date: datetime | None) -> str:
    return format_datetime((date or datetime.now(UTC)).astimezone(UTC))


def _new_message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


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
