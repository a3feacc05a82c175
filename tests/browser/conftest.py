"""Fixtures of the browser journeys: the desk served by a real threaded HTTP server on a free
loopback port (a fresh store, its own copy of the seeded demo platform, mail to a loopback SMTP
server); Chromium, screenshots and axe-core come from tests/browser/journey.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from dsr import db
from dsr.app import create_app
from dsr.worker.cli import worker_in_process
from tests.accounts.helpers import TEST_SECRET_KEY
from tests.browser.journey import (
    axe_source,
    browser,
    browser_artifacts,
    journey,
    pytest_runtest_makereport,
)
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, platform_url
from tests.execution.platform_copy import copy_platform
from tests.smtp_server import ReceivedMail, SmtpServer
from tests.waiting import WAIT_SECONDS

__all__ = [
    "axe_source",
    "browser",
    "browser_artifacts",
    "journey",
    "platform_url",
    "pytest_runtest_makereport",
]

MAIL_TIMEOUT_S = WAIT_SECONDS


# --- the desk, served -------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """Log nothing per request: the paths hold the requester's secret tokens."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class LiveDesk:
    """The desk served over HTTP, with what the journeys read behind it."""

    app: Flask
    base_url: str
    platform_url: str
    smtp: SmtpServer

    @property
    def store(self) -> Engine:
        return db.get_engine(self.app)

    def url(self, path: str) -> str:
        return self.base_url + path

    def wait_for_mail(
        self, to: str, pattern: str, *, after: int = 0, timeout: float = MAIL_TIMEOUT_S
    ) -> tuple[ReceivedMail, re.Match[str]]:
        """Wait for a message to `to`, received after the first `after` ones, whose text matches
        `pattern`; return it and the match (a link of this desk, a code...)."""
        regex = re.compile(pattern)
        seen = after
        while True:
            messages = self.smtp.messages
            for mail in messages[seen:]:
                found = regex.search(mail.text)
                if to in mail.envelope_recipients and found is not None:
                    return mail, found
            seen = len(messages)
            try:
                self.smtp.wait_for(seen + 1, timeout=timeout)
            except AssertionError:
                subjects = [str(mail.message["Subject"]) for mail in self.smtp.messages]
                raise AssertionError(
                    f"no email matching {pattern!r} within {timeout}s; received: {subjects}"
                ) from None


@pytest.fixture
def live_desk(platform_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[LiveDesk]:
    """The desk on a store of its own, acting on its own copy of the demo platform, served by a
    threaded werkzeug server on a free loopback port until the test ends."""
    store_url = f"sqlite:///{(tmp_path / 'store.sqlite3').as_posix()}"
    db.run_migrations(store_url)
    platform = copy_platform(platform_url, tmp_path)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": store_url,
            "SECRET_KEY": TEST_SECRET_KEY,  # also opens the TOTP secrets of make_staff
            "SESSION_COOKIE_SECURE": False,  # plain HTTP on loopback
            "SMTP_HOST": smtp_server.host,
            "SMTP_PORT": smtp_server.port,
            "MAIL_SENDER": "privacy@example.org",
            "DATA_MAP": str(DATA_MAP),
            "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: platform},
            "REPORTS_DIR": str(tmp_path / "reports"),
            "EXECUTE_AFTER_APPROVAL": True,
            "QUEUE_URL": f"sqlite:///{(tmp_path / 'queue.sqlite3').as_posix()}",
        }
    )
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
    )
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.server_port}"  # what it serves
    thread = threading.Thread(target=server.serve_forever, name="live-desk", daemon=True)
    thread.start()
    try:
        with worker_in_process(app, threads=2):  # runs and emails, as beside the demo
            yield LiveDesk(app, f"http://127.0.0.1:{server.server_port}", platform, smtp_server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
        db.get_engine(app).dispose()
