"""The demo's mailbox: a local SMTP sink that keeps every message it receives as an .eml file,
and the reading of those files for the demo's mail page.

Nothing here sends mail anywhere: the sink listens on loopback only and writes each message under
`instance/mail/` (owner-only permissions), named by arrival time and a sequence number, never by
anything the message says.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

MAIL_FOLDER = "mail"
"""The mailbox's folder, inside the instance folder."""

DEFAULT_SMTP_PORT = 8025
SINK_HOST = "127.0.0.1"

MESSAGE_NAME = re.compile(r"\A\d{8}T\d{6}\.\d{6}Z-\d{6}\.eml\Z")
"""What the sink names its files, e.g. 20260131T090000.000000Z-000001.eml; nothing else is read."""


class MailSink:
    """An SMTP server on loopback that writes each message it accepts to `folder` (mode 0600).

    Start and stop it, or use it as a context manager; it runs in a thread of its own.
    """

    def __init__(self, folder: Path, *, host: str = SINK_HOST, port: int = DEFAULT_SMTP_PORT):
        self.folder = folder
        self.host = host
        self.port = port
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> Self:
        """Create the folder (owner-only) and listen; raise OSError when the port is taken."""
        if self._controller is not None:
            raise RuntimeError("the mail sink is already running")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        controller = Controller(
            self, hostname=self.host, port=self.port, server_hostname="localhost"
        )
        try:
            controller.start()
        except BaseException:
            if controller._thread is not None:
                controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening and end the sink's thread. Idempotent."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message as it came (aiosmtpd hook, run in the sink's thread)."""
        content = envelope.original_content
        if content is None:
            return "554 5.6.0 No message content"
        self.write(content)
        return "250 OK: kept in the demo mailbox"

    def write(self, content: bytes) -> Path:
        """Write one message to a new file readable by its owner only; return its path."""
        with self._lock:
            number = next(self._sequence)
            while True:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
                path = self.folder / f"{stamp}-{number:06d}.eml"
                try:
                    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:  # a file of an earlier run, same instant and number
                    number = next(self._sequence)
                    continue
                break
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        return path


# --- reading the mailbox ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredMail:
    """One message of the mailbox, as the demo page shows it."""

    name: str
    subject: str
    sender: str
    recipients: str
    date: str
    text: str


def list_mail(folder: Path) -> list[StoredMail]:
    """Return the messages in `folder`, newest first; an absent folder is an empty mailbox."""
    if not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.iterdir() if MESSAGE_NAME.match(p.name)), reverse=True)
    return [mail for name in names if (mail := read_mail(folder, name)) is not None]


def read_mail(folder: Path, name: str) -> StoredMail | None:
    """Return the message called `name` in `folder`, or None if there is no such message.

    Only names the sink gives are read, so a crafted name cannot reach another file.
    """
    if not MESSAGE_NAME.match(name):
        return None
    try:
        content = (folder / name).read_bytes()
    except FileNotFoundError:
        return None
    message = BytesParser(policy=policy.default).parsebytes(content)
    if not isinstance(message, EmailMessage):  # policy.default always makes one
        return None
    return StoredMail(
        name=name,
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        recipients=str(message.get("To", "")),
        date=str(message.get("Date", "")),
        text=_plain_text(message),
    )


def _plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        return ""
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""
