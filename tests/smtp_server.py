"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests to read.

Use the `smtp_server` fixture, or `SmtpServer` as a context manager. It can refuse the next
transactions with a given code (`refuse_next`), be stopped and started again on the same port to
simulate an outage, and offer STARTTLS or implicit TLS and AUTH (`self_signed_tls`).
"""

from __future__ import annotations

import errno
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal, Self

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.waiting import WAIT_SECONDS


def settle_background_work() -> None:
    """Nothing to wait for: the test applications queue their jobs in immediate mode
    (DSR_QUEUE_URL=immediate), so each ran in the thread that queued it, after its commit. Kept
    as the one place to wait should a test's work ever leave its thread again."""


RefusalStage = Literal["MAIL", "RCPT", "DATA"]

_REPLY_TEXT = {4: "Temporarily unable to accept", 5: "Rejected"}
READY_SECONDS = 60.0
"""How long the server may take to answer once started (aiosmtpd's 5 s fail a loaded machine)."""


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted: its SMTP envelope and the parsed message."""

    envelope_sender: str
    envelope_recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def text(self) -> str:
        """The text/plain body, decoded."""
        return self._body("plain") or ""

    @property
    def html(self) -> str | None:
        """The text/html body, decoded, or None for a text-only message."""
        return self._body("html")

    def _body(self, subtype: str) -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_subtype() != subtype:
            return None
        content = part.get_content()
        assert isinstance(content, str)
        return content.replace("\r\n", "\n")  # the wire's line ends, as Python writes them


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost, and the contexts that use it."""

    certificate: Path
    private_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.private_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate only."""
        return ssl.create_default_context(cafile=str(self.certificate))


def self_signed_tls(folder: Path) -> TlsFiles:
    """Write a throwaway self-signed certificate under `folder` with the openssl command."""
    files = TlsFiles(folder / "smtp-cert.pem", folder / "smtp-key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(files.private_key),
            "-out",
            str(files.certificate),
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    return files


class SmtpServer:
    """A threaded SMTP server on `host`:`port` (a free port by default) that records messages.

    `starttls` offers STARTTLS with that server context; `implicit_tls` speaks TLS from the first
    byte; `credentials` (login, password) require AUTH, which aiosmtpd offers only over TLS.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._port_is_chosen = port == 0
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._credentials = credentials
        self._controller: Controller | None = None
        self._received: list[ReceivedMail] = []
        self._refusals: list[tuple[RefusalStage, int]] = []
        self._changed = threading.Condition()
        self._transactions = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen (again) on the same port; messages and pending refusals are kept."""
        if self._controller is not None:
            raise RuntimeError("the SMTP server is already running")
        for _ in range(5):
            if self.port == 0:
                self.port = _free_port(self.host)
            controller = self._new_controller()
            try:
                controller.start()
            except OSError as error:
                _close_unstarted(controller)
                if error.errno != errno.EADDRINUSE or not self._port_is_chosen:
                    raise
                self.port = 0  # someone took the free port meanwhile: pick another
                continue
            self._controller = controller
            return self
        raise RuntimeError("no free port for the SMTP server")

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`. Idempotent."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what the tests read and steer --------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        """The messages accepted so far, oldest first (a copy), once this process's background
        deliveries have settled (the desk sends its emails off the web request)."""
        self._settle()
        with self._changed:
            return list(self._received)

    @property
    def transactions(self) -> int:
        """Transactions seen (MAIL commands), refused ones included, once deliveries settled."""
        self._settle()
        with self._changed:
            return self._transactions

    def _settle(self) -> None:
        # aiosmtpd reads the handler's attributes from its own thread when a client connects:
        # waiting there for the deliveries would keep them from connecting.
        if threading.current_thread() is not getattr(self._controller, "_thread", None):
            settle_background_work()

    def clear(self) -> None:
        with self._changed:
            self._received.clear()

    def refuse_next(self, n: int = 1, code: int = 451, *, at: RefusalStage = "DATA") -> None:
        """Answer the next `n` transactions with `code` at the `at` command, then accept again.

        The reply text names the address concerned, as real servers do, so tests can check that
        it does not leak into error reasons.
        """
        if not 400 <= code < 600:
            raise ValueError("a refusal is a 4xx or 5xx code")
        with self._changed:
            self._refusals.extend([(at, code)] * n)

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[ReceivedMail]:
        """Wait until at least `count` messages arrived and return them (at once when they are
        there); fail after `timeout`, a bound that only matters when they never come."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} message(s) within {timeout}s, got {len(self._received)}"
                    )
                self._changed.wait(remaining)
        self._settle()  # the deliveries that sent them have recorded it too
        with self._changed:
            return list(self._received)

    # -- aiosmtpd handler hooks (run in the server's thread) --------------------------------

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        with self._changed:
            self._transactions += 1
        refusal = self._take_refusal("MAIL", address)
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._take_refusal("RCPT", address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._take_refusal("DATA", ", ".join(envelope.rcpt_tos))
        if refusal:
            return refusal
        content = envelope.original_content
        assert content is not None and envelope.mail_from is not None
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message)
        with self._changed:
            self._received.append(mail)
            self._changed.notify_all()
        return "250 OK: queued"

    def _take_refusal(self, stage: RefusalStage, address: str) -> str | None:
        with self._changed:
            if not self._refusals or self._refusals[0][0] != stage:
                return None
            _, code = self._refusals.pop(0)
        klass = code // 100
        return f"{code} {klass}.0.0 <{address}>: {_REPLY_TEXT[klass]}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self._credentials is not None
        login, password = self._credentials
        accepted = (
            isinstance(data, LoginPassword)
            and data.login == login.encode()
            and data.password == password.encode()
        )
        return AuthResult(success=accepted, handled=False)  # aiosmtpd replies 535 on failure

    def _new_controller(self) -> Controller:
        options: dict[str, Any] = {"server_hostname": "localhost"}
        if self._starttls is not None:
            options.update(tls_context=self._starttls, require_starttls=False)
        if self._credentials is not None:
            options.update(authenticator=self._authenticate, auth_require_tls=True)
        return Controller(
            self,
            hostname=self.host,
            port=self.port,
            ssl_context=self._implicit_tls,
            ready_timeout=READY_SECONDS,
            **options,
        )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _close_unstarted(controller: Controller) -> None:
    """Release what a controller that failed to start still holds (its thread and loop)."""
    if controller._thread is not None:
        controller.stop(no_assert=True)
    if not controller.loop.is_closed():
        controller.loop.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on loopback for one test, plain (no TLS, no AUTH)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def smtp_tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for SMTP servers with TLS, made once per test session."""
    return self_signed_tls(tmp_path_factory.mktemp("smtp-tls"))
