"""Every link the desk writes starts with its public URL (DSR_PUBLIC_URL), whatever Host and
X-Forwarded-Host the request that caused it carried: a forged host must never receive a token.

The journeys run with one trusted proxy (DSR_TRUSTED_PROXIES=1, as behind a reverse proxy) and a
browser that names the attacker's host both ways, through every path that emails a link: the
public form, the confirmation, /resend, the API, a forgotten password, an invitation, and each
staff action that writes to the requester (verify by hand, ask a question, ask for identity,
extend, deny, send the report's link, the erasure's certificate).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers
from werkzeug.test import TestResponse

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.datamap import DEFAULT_MAP_PATH, load_map
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.cli import request_group
from dsr.links import (
    DEVELOPMENT_PUBLIC_URL,
    InvalidPublicUrl,
    parse_public_url,
    public_url,
    public_url_for_settings,
)
from dsr.requests.workflow import RequestType, Status
from tests.accounts.helpers import STAFF_PASSWORD, make_staff
from tests.api.conftest import issue_token
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, platform_url
from tests.execution.platform_copy import copy_platform
from tests.factories import make_request
from tests.pages import csrf_token
from tests.smtp_server import ReceivedMail, SmtpServer
from tests.web.conftest import submit
from tests.worker.conftest import run_queued_jobs

__all__ = ["platform_url"]  # the fixtures used here

PUBLIC_URL = "https://privacy.example.org/desk"
FORGED_HEADERS = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "http",
    "X-Forwarded-For": "203.0.113.7",
}
URL = re.compile(r"https?://[^\s\"'<>]+")
OTHER_SITES = ("https://www.cnil.fr", str(load_map(DEFAULT_MAP_PATH).organisation.website))
"""Addresses the emails name on purpose: the supervisory authority's, and the organisation's
website under its signature (from the map, not from the request)."""


class ForgedHostClient(FlaskClient):
    """A browser whose every request names the attacker's host, directly and as a proxy would."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        headers = Headers(kwargs.pop("headers", None) or {})
        for name, value in FORGED_HEADERS.items():
            headers.setdefault(name, value)
        return super().open(*args, headers=headers, **kwargs)


@pytest.fixture
def app_config(platform_url: str, tmp_path: Path) -> dict[str, Any]:
    """Behind one trusted proxy, on its public URL; approval runs the request."""
    return {
        "SESSION_COOKIE_SECURE": False,
        "PUBLIC_URL": PUBLIC_URL,
        "TRUSTED_PROXIES": 1,
        "DATA_MAP": str(DATA_MAP),
        "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: copy_platform(platform_url, tmp_path)},
        "REPORTS_DIR": str(tmp_path / "reports"),
        "EXECUTE_AFTER_APPROVAL": True,
    }


@pytest.fixture
def app(app: Flask) -> Flask:
    """The application, whose test clients name the attacker's host."""
    app.test_client_class = ForgedHostClient
    return app


def links_of(mail: ReceivedMail) -> list[str]:
    """Every http(s) address in the email's text and HTML, once each, the supervisory
    authority's aside."""
    found = URL.findall(mail.text) + URL.findall(mail.html or "")
    links = [link.rstrip(".,;:)") for link in found if not link.startswith(OTHER_SITES)]
    return list(dict.fromkeys(links))


def assert_on_public_url(mail: ReceivedMail, *, with_link: bool = True) -> list[str]:
    """Check that no address in `mail` is on another host; return its links (at least one when
    `with_link`)."""
    assert "evil.example" not in mail.text and "evil.example" not in (mail.html or "")
    links = links_of(mail)
    assert all(link.startswith(f"{PUBLIC_URL}/") for link in links), links
    if with_link:
        assert links, mail.text
    return links


def path_of(link: str) -> str:
    """The path the desk serves a public link on (the proxy strips the public URL's path)."""
    return link.removeprefix(PUBLIC_URL)


def staff_login(app: Flask, role: StaffRole, email: str) -> FlaskClient:
    make_staff(db.get_engine(app), role=role, email=email)
    client = app.test_client()
    answer = submit(client, "/staff/login", {"email": email, "password": STAFF_PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def dpo(app: Flask) -> FlaskClient:
    return staff_login(app, StaffRole.DPO, "dpo@example.org")


def act(client: FlaskClient, reference: str, action: str, data: dict[str, str]) -> None:
    page = client.get(f"/dashboard/requests/{reference}")
    version = re.search(
        r'name="version_id" type="hidden" value="(\d+)"', page.get_data(as_text=True)
    )
    fields = {"csrf_token": csrf_token(page), **data}
    if version is not None:
        fields["version_id"] = version.group(1)
    answer = client.post(f"/dashboard/requests/{reference}/{action}", data=fields)
    assert answer.status_code == 303, answer.get_data(as_text=True)


def new_request(app: Flask, status: Status, **fields: Any) -> str:
    """Add a request received three days ago in `status`; return its reference."""
    fields.setdefault("received_at", datetime.now(UTC) - timedelta(days=3))
    with db.transaction(db.get_engine(app)) as session:
        return make_request(session, status=status, **fields).reference


# --- the helper ---------------------------------------------------------------------------------


def test_links_are_built_without_a_request(app: Flask) -> None:
    with app.app_context():
        assert public_url("public.verify", token="a.b-c") == f"{PUBLIC_URL}/verify/a.b-c"
        assert public_url("public.new_request") == f"{PUBLIC_URL}/"
    settings = {"PUBLIC_URL": "https://desk.example.net:8443/"}
    assert (
        public_url_for_settings(settings, "certificate.download", token="t")
        == "https://desk.example.net:8443/certificate/t"
    )
    assert public_url_for_settings({}, "public.status", token="t") == (
        f"{DEVELOPMENT_PUBLIC_URL}/status/t"
    )
    with pytest.raises(InvalidPublicUrl, match="DSR_PUBLIC_URL is not set"):
        public_url_for_settings({"ENV": "production"}, "public.status", token="t")


@pytest.mark.parametrize(
    "value",
    [
        "privacy.example.org",
        "ftp://privacy.example.org",
        "https://",
        "https://u:p@desk.example",
        "https://desk.example/?a=1",
        "https://desk.example/#top",
        "https://desk.example:port",
        "https://désk.example",
        "https://desk .example",
    ],
)
def test_a_public_url_that_is_not_an_address_is_refused(value: str) -> None:
    with pytest.raises(InvalidPublicUrl, match="DSR_PUBLIC_URL must be"):
        parse_public_url(value)


@pytest.mark.parametrize(
    ("environment", "said"),
    [
        ({"DSR_ENV": "production", "DSR_SECRET_KEY": "s" * 48}, "DSR_PUBLIC_URL is not set"),
        ({"DSR_PUBLIC_URL": "privacy desk"}, "DSR_PUBLIC_URL must be"),
    ],
    ids=["production without it", "not an address"],
)
def test_running_a_request_from_the_command_line_refuses_a_missing_or_wrong_public_url(
    tmp_path: Path, environment: dict[str, str], said: str
) -> None:
    url = f"sqlite:///{tmp_path / 'never-created.sqlite3'}"
    result = CliRunner().invoke(
        request_group,
        ["run", "DSR-2026-000001", "--database-url", url],
        env={"DSR_PUBLIC_URL": None, **environment},
    )
    assert result.exit_code == 1
    assert said in result.output
    assert not (tmp_path / "never-created.sqlite3").exists()


# --- the learner's side -------------------------------------------------------------------------


def test_the_form_the_confirmation_and_resend_link_to_the_public_url(
    app: Flask, smtp_server: SmtpServer
) -> None:
    client = app.test_client()
    filed = submit(
        client, "/", {"email": "zoe@example.org", "request_type": "access", "language": "en"}
    )
    assert filed.status_code == 302
    [verify_link] = assert_on_public_url(smtp_server.wait_for(1)[0])
    assert "/verify/" in verify_link

    resent = submit(client, "/resend", {"email": "zoe@example.org"})
    assert resent.status_code == 302
    [new_link] = assert_on_public_url(smtp_server.wait_for(2)[1])
    assert "/verify/" in new_link and new_link != verify_link

    confirmed = submit(client, path_of(new_link), {})
    assert confirmed.status_code == 302
    status_mail = smtp_server.wait_for(3)[2]
    assert any("/status/" in link for link in assert_on_public_url(status_mail))


def test_a_request_filed_through_the_api_links_to_the_public_url(
    app: Flask, smtp_server: SmtpServer
) -> None:
    token = issue_token(app, "learner-platform")
    filed = app.test_client().post(
        "/api/v1/requests",
        json={
            "subject_request_type": "access",
            "subject_identities": {"email": "zoe@example.org"},
            "language": "en",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert filed.status_code == 201, filed.get_data(as_text=True)
    assert "evil.example" not in filed.get_data(as_text=True)
    links = assert_on_public_url(smtp_server.wait_for(1)[0])
    assert any("/status/" in link for link in links)


# --- staff --------------------------------------------------------------------------------------


def test_a_password_reset_and_an_invitation_link_to_the_public_url(
    app: Flask, smtp_server: SmtpServer
) -> None:
    make_staff(db.get_engine(app), role=StaffRole.DPO, email="dana@example.org")
    asked = submit(app.test_client(), "/staff/password/forgot", {"email": "dana@example.org"})
    assert asked.status_code == 302
    [reset_link] = assert_on_public_url(smtp_server.wait_for(1)[0])
    assert "/staff/password/reset/" in reset_link
    assert app.test_client().get(path_of(reset_link)).status_code == 200

    admin = staff_login(app, StaffRole.ADMIN, "admin@example.org")
    page = admin.get("/staff/accounts")
    invited = admin.post(
        "/staff/accounts/invite",
        data={
            "csrf_token": csrf_token(page),
            "email": "new.person@example.org",
            "role": "dpo",
            "language": "en",
        },
    )
    assert invited.status_code == 302
    [invitation_link] = assert_on_public_url(smtp_server.wait_for(2)[1])
    assert "/staff/invitation/" in invitation_link


@pytest.mark.parametrize(
    ("status", "action", "data", "with_link"),
    [
        (Status.RECEIVED, "verify", {"reason": "Checked by phone."}, True),
        (Status.IN_REVIEW, "ask", {"question": "Which account?"}, True),
        (Status.IN_REVIEW, "identity", {"reason": "Two accounts share the address."}, True),
        (
            Status.IN_REVIEW,
            "extend",
            {"months": "1", "ground": "complexity", "reason": "Many systems."},
            False,
        ),
        (Status.IN_REVIEW, "deny", {"reason": "Manifestly unfounded."}, False),
    ],
    ids=["verify", "ask", "identity", "extend", "deny"],
)
def test_each_staff_action_that_writes_to_the_requester_links_to_the_public_url(
    app: Flask,
    dpo: FlaskClient,
    smtp_server: SmtpServer,
    status: Status,
    action: str,
    data: dict[str, str],
    with_link: bool,
) -> None:
    reference = new_request(app, status, request_type=RequestType.RECTIFICATION)
    act(dpo, reference, action, data)
    for mail in smtp_server.wait_for(1):
        assert_on_public_url(mail, with_link=with_link)


def test_the_reports_link_and_the_erasure_certificate_are_on_the_public_url(
    app: Flask, dpo: FlaskClient, smtp_server: SmtpServer
) -> None:
    access = new_request(app, Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL)
    act(dpo, access, "approve", {})
    act(dpo, access, "reports/send", {"method": "link"})
    [download_link] = assert_on_public_url(smtp_server.wait_for(1)[0])
    assert "/download/" in download_link
    assert app.test_client().get(path_of(download_link)).status_code == 200

    erasure = new_request(
        app, Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL, request_type=RequestType.ERASURE
    )
    act(dpo, erasure, "approve", {})
    certificate_mail = smtp_server.wait_for(2)[1]
    [certificate_link] = assert_on_public_url(certificate_mail)
    assert "/certificate/" in certificate_link
    with app.test_client().get(path_of(certificate_link)) as pdf:
        assert pdf.status_code == 200 and pdf.get_data().startswith(b"%PDF")


@pytest.fixture
def production_app(store_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[Flask]:
    from dsr.app import create_app

    app = create_app(
        {
            "TESTING": True,
            "ENV": "production",
            "DATABASE_URL": store_url,
            "SECRET_KEY": "a-production-secret-of-forty-eight-characters-xy",
            "PUBLIC_URL": "https://privacy.example.org",
            "TRUSTED_PROXIES": 1,
            "SMTP_HOST": smtp_server.host,
            "SMTP_PORT": smtp_server.port,
            "MAIL_SENDER": "privacy@example.org",
            "QUEUE_URL": f"sqlite:///{(tmp_path / 'queue.sqlite3').as_posix()}",
        }
    )
    yield app
    db.get_engine(app).dispose()


def test_in_production_a_forged_forwarded_host_is_ignored_not_trusted(
    production_app: Flask, smtp_server: SmtpServer
) -> None:
    client = production_app.test_client()
    right_host = {**FORGED_HEADERS, "Host": "privacy.example.org", "X-Forwarded-Proto": "https"}
    make_staff(db.get_engine(production_app), role=StaffRole.DPO, email="dana@example.org")
    page = client.get("/staff/password/forgot", headers=right_host)
    assert page.status_code == 200
    asked = client.post(
        "/staff/password/forgot",
        data={"csrf_token": csrf_token(page), "email": "dana@example.org"},
        headers={**right_host, "Referer": "https://privacy.example.org/staff/password/forgot"},
    )
    assert asked.status_code == 302, asked.get_data(as_text=True)
    run_queued_jobs(production_app)  # what a worker does (production has no immediate mode)
    mail = smtp_server.wait_for(1)[0]
    assert "evil.example" not in mail.text
    assert "https://privacy.example.org/staff/password/reset/" in mail.text
    assert client.get("/staff/password/forgot", headers=FORGED_HEADERS).status_code == 400
