"""Fixtures of the delivery tests: the settings of the suite's application (on a SQLite store with
a real SMTP server) reading the seeded demo platform and keeping its reports in the test's
folder; an access request of the sample learner, approved through the dashboard and carried out
(ready to send)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.languages import Language
from dsr.links import DEVELOPMENT_PUBLIC_URL
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from tests.dashboard.conftest import logged_in
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, platform_url
from tests.factories import make_request, reloaded
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer

__all__ = ["platform_url"]

PUBLIC = re.escape(DEVELOPMENT_PUBLIC_URL)  # links start with it, whatever Host was asked
DOWNLOAD_LINK = re.compile(PUBLIC + r"(/download/[A-Za-z0-9_-]+)")
CODE = re.compile(r"^(\d{6})$", re.MULTILINE)


@pytest.fixture
def app_config(platform_url: str, tmp_path: Path) -> dict[str, Any]:
    """Staff pages over plain HTTP; approval runs the request on the demo platform."""
    return {
        "SESSION_COOKIE_SECURE": False,
        "DATA_MAP": str(DATA_MAP),
        "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: platform_url},
        "REPORTS_DIR": str(tmp_path / "reports"),
        "EXECUTE_AFTER_APPROVAL": True,
    }


@pytest.fixture
def dpo(app: Flask) -> FlaskClient:
    """A DPO logged in, reading the pages in English."""
    client = logged_in(app, "dpo@example.org", StaffRole.DPO)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@dataclass
class Completed:
    reference: str
    request_id: int


def approve(client: FlaskClient, reference: str, version: int) -> str:
    """Approve through the request page; return the page shown after (the run is done by then)."""
    page = client.get(f"/dashboard/requests/{reference}")
    answer = client.post(
        f"/dashboard/requests/{reference}/approve",
        data={"csrf_token": csrf_token(page), "version_id": str(version)},
    )
    assert answer.status_code == 303
    return client.get(answer.headers["Location"]).get_data(as_text=True)


CompleteRequest = Callable[..., Completed]


@pytest.fixture
def complete_request(app: Flask, dpo: FlaskClient) -> CompleteRequest:
    """File (in review) and approve an access request of the sample learner through the page; the
    run leaves it ready to send."""

    def complete(
        request_type: RequestType = RequestType.ACCESS, language: Language = Language.EN
    ) -> Completed:
        with db.transaction(db.get_engine(app)) as session:
            request = make_request(
                session,
                status=Status.IN_REVIEW,
                email=SAMPLE_LEARNER_EMAIL,
                request_type=request_type,
                language=language,
            )
        assert request.id is not None
        approve(dpo, request.reference, request.version_id)
        assert reloaded(db.get_engine(app), request.id).status is Status.READY_TO_SEND
        return Completed(request.reference, request.id)

    return complete


def send(client: FlaskClient, reference: str, method: str = "link") -> str:
    """Send the reports from the request page; return the page shown after."""
    page = client.get(f"/dashboard/requests/{reference}")
    answer = client.post(
        f"/dashboard/requests/{reference}/reports/send",
        data={"csrf_token": csrf_token(page), "method": method},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client.get(answer.headers["Location"]).get_data(as_text=True)


def download_path(smtp: SmtpServer, count: int) -> str:
    """Return the download page's path from the report email, the `count`th mail received."""
    mail = smtp.wait_for(count)[count - 1]
    found = DOWNLOAD_LINK.search(mail.text)
    assert found is not None, mail.text
    return found.group(1)


def ask_code(client: FlaskClient, path: str, smtp: SmtpServer) -> str:
    """Ask the download page for a code; return the code from the email that brings it."""
    before = len(smtp.messages)
    page = client.get(path)
    answer = client.post(f"{path}/code", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    mail = smtp.wait_for(before + 1)[before]
    found = CODE.search(mail.text)
    assert found is not None, mail.text
    return found.group(1)


def give_code(client: FlaskClient, path: str, code: str) -> tuple[int, str]:
    page = client.get(path)
    answer = client.post(path, data={"csrf_token": csrf_token(page), "code": code})
    return answer.status_code, answer.get_data(as_text=True)


def stored(app: Flask, request_id: int) -> DataRequest:
    return reloaded(db.get_engine(app), request_id)


def requester(app: Flask) -> FlaskClient:
    """A browser of the requester, asking for English pages."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
