"""Deliver one composed email over SMTP, and say whether a failure is worth retrying.

Failures become `TransientDeliveryError` (retry later: the server is down, slow, or answered 4xx)
or `PermanentDeliveryError` (the server answered 5xx: retrying will not help). Their `reason` is
short and free of personal data (no address, no body, no server reply text), so it can be
logged and stored as an outbox message's last error.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from dsr.config import flag

MAX_ATTEMPTS = 14
"""Failed attempts after which a message is failed for good: its retries span 32 hours, so a
message outlives a day-long outage of the SMTP server."""

FIRST_RETRY_DELAY = timedelta(minutes=1)
LONGEST_RETRY_DELAY = timedelta(hours=6)

_ENHANCED_STATUS = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


class DeliveryError(Exception):
    """A message was not delivered; `reason` is safe to log (no personal data)."""

    def __init__(self, reason: str, *, smtp_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.smtp_code = smtp_code


class TransientDeliveryError(DeliveryError):
    """Delivery may succeed later: retry after `next_attempt_delay`."""


class PermanentDeliveryError(DeliveryError):
    """The server refused the message for good (5xx): do not retry."""


class SmtpSettingsError(ValueError):
    """The SMTP settings are missing or inconsistent; the message names the setting."""


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server. `ssl` is TLS from the first byte (port 465); `starttls`
    upgrades a plain connection (port 587); at most one of them."""

    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 10.0
    sender: str = "privacy-desk@localhost"

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise SmtpSettingsError("SMTP_STARTTLS and SMTP_SSL exclude each other: choose one")
        if not self.host:
            raise SmtpSettingsError("SMTP_HOST must not be empty")
        if not 0 < self.port < 65536:
            raise SmtpSettingsError("SMTP_PORT must be between 1 and 65535")
        if self.timeout <= 0:
            raise SmtpSettingsError("SMTP_TIMEOUT must be a positive number of seconds")
        if self.username and self.password is None:
            raise SmtpSettingsError("SMTP_USERNAME is set but SMTP_PASSWORD is not")
        if not self.sender:
            raise SmtpSettingsError("MAIL_SENDER must not be empty")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        """Read the settings from a Flask config or an environment-like mapping.

        Each setting is read from its key as a Flask config holds it after
        `from_prefixed_env("DSR")` (SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD,
        SMTP_STARTTLS, SMTP_SSL, SMTP_TIMEOUT, MAIL_SENDER), else from the same key prefixed with
        DSR_ (as in os.environ). Values may be strings or already-parsed JSON (ints, booleans).
        Missing keys keep the defaults; the port defaults to 465 with SMTP_SSL, 587 with
        SMTP_STARTTLS, else 25. Raise SmtpSettingsError on a value that does not parse.
        """

        def value(key: str) -> Any:
            for name in (key, f"DSR_{key}"):
                if config.get(name) is not None:
                    return config[name]
            return None

        use_ssl = _flag(value("SMTP_SSL"), "SMTP_SSL")
        starttls = _flag(value("SMTP_STARTTLS"), "SMTP_STARTTLS")
        default_port = 465 if use_ssl else 587 if starttls else cls.port
        raw_port = value("SMTP_PORT")
        raw_timeout = value("SMTP_TIMEOUT")
        username = value("SMTP_USERNAME")
        password = value("SMTP_PASSWORD")
        return cls(
            host=str(value("SMTP_HOST") or cls.host),
            port=default_port if raw_port in (None, "") else _integer(raw_port, "SMTP_PORT"),
            username=str(username) if username else None,
            password=str(password) if password is not None else None,
            starttls=starttls,
            ssl=use_ssl,
            timeout=cls.timeout
            if raw_timeout in (None, "")
            else _seconds(raw_timeout, "SMTP_TIMEOUT"),
            sender=str(value("MAIL_SENDER") or cls.sender),
        )


def _flag(raw: Any, key: str) -> bool:
    try:
        return flag(raw, key)
    except ValueError as error:
        raise SmtpSettingsError(str(error)) from None


def _integer(raw: Any, key: str) -> int:
    if isinstance(raw, bool | float):
        raise SmtpSettingsError(f"{key} must be a whole number, not {raw!r}")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise SmtpSettingsError(f"{key} must be a whole number, not {raw!r}") from None


def _seconds(raw: Any, key: str) -> float:
    if isinstance(raw, bool):
        raise SmtpSettingsError(f"{key} must be a number of seconds, not {raw!r}")
    try:
        return float(str(raw).strip())
    except ValueError:
        raise SmtpSettingsError(f"{key} must be a number of seconds, not {raw!r}") from None


def next_attempt_delay(attempts: int) -> timedelta:
    """Return how long to wait after `attempts` failed attempts (1 -> 1 min, 2 -> 2 min, 3 -> 4
    min, ... at most 6 h); no jitter, so the schedule is predictable and testable."""
    if attempts < 1:
        raise ValueError("attempts counts the failed attempts so far: at least 1")
    longest = LONGEST_RETRY_DELAY // FIRST_RETRY_DELAY
    return FIRST_RETRY_DELAY * min(1 << min(attempts - 1, longest.bit_length()), longest)


def send_email(
    message: EmailMessage, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Deliver `message` to the one address in its To header, from `settings.sender`.

    `ssl_context` verifies the server's certificate under `ssl`/`starttls` (default: the system's
    trusted authorities). Raise TransientDeliveryError or PermanentDeliveryError on failure, and
    ValueError when the message has not exactly one recipient (one message per person keeps
    retries from delivering twice to the others).
    """
    with SmtpConnection(settings, ssl_context=ssl_context) as connection:
        connection.send(message)


class SmtpConnection:
    """A connection to the SMTP server kept for several messages (a delivery run), as `send_email`
    sends one: connecting, greeting and saying QUIT cost more than a short message's transaction
    (issue 17). It connects on the first message; a connection the server closed since is
    noticed before a message is sent on it (NOOP) and opened again; one that failed is dropped."""

    def __init__(
        self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.settings = settings
        self.context = ssl_context
        if self.context is None and (settings.ssl or settings.starttls):
            self.context = ssl.create_default_context()
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        """Deliver `message` as `send_email` does (same errors), on this connection."""
        self._send(message, _only_recipient(message))

    def send_flat(self, message: bytes, *, recipient: str) -> None:
        """Deliver `message`, already flattened as smtplib sends it (compose_email_bytes), to
        `recipient`, its one recipient, as `send` does (same errors)."""
        self._send(message, recipient)

    def _send(self, message: EmailMessage | bytes, recipient: str) -> None:
        client = self._usable()
        try:
            _transact(client, message, self.settings, recipient)
        except DeliveryError:
            self.close()  # whatever state the failure left it in, the next message starts afresh
            raise

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            _close(client)

    def drop(self) -> None:
        """Close the socket without saying QUIT (the process is ending: wait for no reply)."""
        if self._client is not None:
            client, self._client = self._client, None
            client.close()

    def _usable(self) -> smtplib.SMTP:
        if self._client is not None:
            try:
                code, _ = self._client.noop()
            except (OSError, smtplib.SMTPException):
                code = 0
            if code == 250:
                return self._client
            self._client.close()
            self._client = None
        try:
            client = _connect(self.settings, self.context)
        except smtplib.SMTPConnectError as error:
            raise TransientDeliveryError(
                _reply_reason("greeting refused", error.smtp_code, error.smtp_error),
                smtp_code=error.smtp_code,
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TransientDeliveryError(_network_reason("cannot connect", error)) from None
        try:
            _greet(client, self.settings, self.context)
        except DeliveryError:
            _close(client)
            raise
        self._client = client
        return client


def _only_recipient(message: EmailMessage) -> str:
    addresses = [
        address
        for header in ("To", "Cc", "Bcc")
        for _, address in getaddresses(message.get_all(header, []))
        if address
    ]
    if len(addresses) != 1:
        raise ValueError(f"a message must have exactly one recipient, not {len(addresses)}")
    return addresses[0]


def _connect(settings: SmtpSettings, context: ssl.SSLContext | None) -> smtplib.SMTP:
    if settings.ssl:
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _greet(client: smtplib.SMTP, settings: SmtpSettings, context: ssl.SSLContext | None) -> None:
    """Say EHLO, then STARTTLS and AUTH when the settings ask; raise a DeliveryError."""
    with _classified(client, "EHLO"):
        client.ehlo_or_helo_if_needed()
    if settings.starttls:
        with _classified(client, "STARTTLS"):
            client.starttls(context=context)
    if settings.username:
        with _classified(client, "AUTH"):
            client.login(settings.username, settings.password or "")


def _transact(
    client: smtplib.SMTP, message: EmailMessage | bytes, settings: SmtpSettings, recipient: str
) -> None:
    """Send `message` (or its bytes) to `recipient` on a greeted connection; raise a
    DeliveryError."""
    with _classified(client, "the transaction"):
        if isinstance(message, bytes):  # what send_message sends for a message all in ASCII
            refused = client.sendmail(settings.sender, [recipient], message)
        else:
            refused = client.send_message(message, from_addr=settings.sender, to_addrs=[recipient])
    if refused:  # unreachable with one recipient: smtplib raises when all are refused
        raise PermanentDeliveryError("recipient refused")


@contextmanager
def _classified(client: smtplib.SMTP, stage: str) -> Iterator[None]:
    """Raise what goes wrong at `stage` of the conversation as a DeliveryError: worth retrying
    or final, saying the stage and the server's code, never its text."""
    try:
        yield
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()), (0, b""))
        raise _by_code("recipient refused", code, reply) from None
    except smtplib.SMTPSenderRefused as error:
        raise _by_code("sender refused", error.smtp_code, error.smtp_error) from None
    except smtplib.SMTPDataError as error:
        raise _by_code("message refused", error.smtp_code, error.smtp_error) from None
    except smtplib.SMTPAuthenticationError as error:
        # The credentials are the deployment's, not the message's fault: retry once fixed.
        raise TransientDeliveryError(
            _reply_reason("authentication failed", error.smtp_code, error.smtp_error),
            smtp_code=error.smtp_code,
        ) from None
    except smtplib.SMTPNotSupportedError:
        if stage == "the transaction":  # an internationalised address the server cannot take
            raise PermanentDeliveryError("the server does not support SMTPUTF8") from None
        raise TransientDeliveryError(f"the server does not support {stage}") from None
    except smtplib.SMTPServerDisconnected as error:
        client.close()
        raise TransientDeliveryError(_network_reason(f"{stage} failed", error)) from None
    except smtplib.SMTPResponseException as error:
        raise _by_code(f"{stage} failed", error.smtp_code, error.smtp_error) from None
    except (OSError, smtplib.SMTPException) as error:
        client.close()  # the connection is unusable: no QUIT, which would wait for the timeout
        raise TransientDeliveryError(_network_reason(f"{stage} failed", error)) from None


def _close(client: smtplib.SMTP) -> None:
    """Say QUIT if the connection still works, and close the socket in any case."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _by_code(what: str, code: int, reply: bytes | str) -> DeliveryError:
    """Classify an SMTP reply: 4xx is worth retrying, anything else is final."""
    reason = _reply_reason(what, code, reply)
    if 400 <= code < 500:
        return TransientDeliveryError(reason, smtp_code=code)
    return PermanentDeliveryError(reason, smtp_code=code)


def _reply_reason(what: str, code: int, reply: bytes | str) -> str:
    """Return e.g. "recipient refused: 550 5.1.1"; the reply text may name people, so only its
    enhanced status code (RFC 3463) is kept."""
    raw = reply.encode("utf-8", "replace") if isinstance(reply, str) else reply
    match = _ENHANCED_STATUS.match(raw)
    status = f" {match.group(1).decode('ascii')}" if match else ""
    return f"{what}: {code}{status}"


def _network_reason(what: str, error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # smtplib turns a socket error while reading a reply into this; the cause is its context
        if isinstance(error.__context__, OSError):
            return _network_reason(what, error.__context__)
        return f"{what}: the server closed the connection"
    if isinstance(error, ConnectionRefusedError):
        return f"{what}: connection refused"
    if isinstance(error, TimeoutError):
        return f"{what}: timed out"
    if isinstance(error, socket.gaierror):
        return f"{what}: the SMTP host name does not resolve"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"{what}: the server's TLS certificate is not trusted"
    if isinstance(error, ssl.SSLError):
        return f"{what}: TLS error"
    if isinstance(error, OSError) and error.errno is not None:
        return f"{what}: {type(error).__name__} (errno {error.errno})"
    return f"{what}: {type(error).__name__}"
