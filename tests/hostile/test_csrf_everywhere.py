"""Every form of the application refuses a POST without its CSRF token: the test walks the URL
map, so a new POST endpoint outside the token-authenticated API cannot be forgotten.

Each POST is sent the way a forged cross-site form would send it: plausible fields, real
references and links, a logged-in admin's session cookie, but no token. It must be refused with
the CSRF page (400) and leave every table of the store as it was. The same POST with the token
is then not refused by the CSRF check (and many of them change the store), which proves that the
token is what made the difference. Earlier tests check the same for one form each
(tests/web/test_request_form.py, tests/accounts/test_login.py,
tests/dashboard/test_request_page.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from dsr import db
from dsr.dashboard.request_page import OFFERED_ACTIONS
from dsr.requests.workflow import Status
from tests.accounts.helpers import StaffClientFactory, make_staff
from tests.hostile.conftest import store_snapshot
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.web.conftest import VERIFY_LINK, file_request, follow_to_status, link_in, stored_requests

CSRF_PAGE_TEXTS = (
    "without its security token",
    "sans son jeton de sécurité",
)
"""How the CSRF page explains itself, in English and in French."""

POST_ENDPOINTS = {
    "public.new_request",
    "public.resend",
    "public.verify",
    "public.cancel",
    "public.answer",
    "public.new_download_link",
    "accounts.login",
    "accounts.login_code",
    "accounts.logout",
    "accounts.change_password",
    "accounts.totp",
    "accounts.new_recovery_codes",
    "accounts.forgot_password",
    "accounts.reset_password",
    "accounts.accept_invitation",
    "accounts.invite",
    "accounts.deactivate",
    "accounts.reactivate",
    "accounts.reset_second_factor",
    "dashboard.new_task",
    "dashboard.complete",
    "dashboard.search",
    "dashboard.act",
    "dashboard.send_report",
    "dashboard.send_answer_again",
    "dashboard.run_again",
    "delivery.download_page",
    "delivery.download_code",
    "dashboard.save_rectification",
    "dashboard.reactivate_account",
    "dashboard.announce_restriction_lift",
    "dashboard.lift_restriction",
    "dashboard.place_hold",
    "dashboard.lift_hold",
    "dashboard.decide_mention",
    "dashboard.approve_retention_sweep",
    "dashboard.assign_selected",
    "dashboard.create_answer_template",
    "dashboard.update_answer_template",
    "dashboard.delete_answer_template",
    "dashboard.add_document",
    "dashboard.remove_document",
    "dashboard.check_proof",
    "dashboard.set_for_whom",
    "dashboard.check_identity",
    "dashboard.add_identity",
    "dashboard.remove_identity",
    "public.identity_document",
    "dashboard.save_received_request",
    "dashboard.answer_posted",
}
"""Every endpoint that takes a POST outside /api/: the test fails when one appears or goes."""

DASHBOARD_ACTIONS = {
    "verify",
    "review",
    "ask",
    "identity",
    "resume",
    "approve",
    "deny",
    "extend",
    "assign",
    "note",
}
"""Every action of `dashboard.act` (/dashboard/requests/<reference>/<action>)."""

LAST = ("accounts.logout",)
"""Sent last: its accepted POST ends the session the others need."""


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Every blueprint, the demo's included."""
    return {"DEMO_MODE": True}


def _post_rules(app: Flask) -> list[Rule]:
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")
    ]
    return sorted(rules, key=lambda rule: (rule.endpoint in LAST, rule.rule))


def _is_csrf_page(answer: Any) -> bool:
    html = answer.get_data(as_text=True)
    return answer.status_code == 400 and any(text in html for text in CSRF_PAGE_TEXTS)


def test_every_post_endpoint_is_listed(app: Flask) -> None:
    found = {rule.endpoint for rule in _post_rules(app)}
    assert found == POST_ENDPOINTS, "a POST endpoint was added or removed: update POST_ENDPOINTS"
    assert {offered.name for offered in OFFERED_ACTIONS} == DASHBOARD_ACTIONS


def test_every_form_refuses_a_post_without_its_token(
    app: Flask,
    client: FlaskClient,
    smtp_server: SmtpServer,
    staff_client: StaffClientFactory,
) -> None:
    # A request waiting for its verification click, another verified with its status page.
    before = len(smtp_server.messages)
    assert file_request(client, email="first@example.org").status_code == 302
    verify_path = link_in(smtp_server.wait_for(before + 1)[before].text, VERIFY_LINK)
    status_path = follow_to_status(client, smtp_server, email="second@example.org")
    requests = stored_requests(app)
    verified = next(r for r in requests if r.status is not Status.RECEIVED)
    other_staff = make_staff(db.get_engine(app), role="dpo")
    admin = staff_client("admin")
    admin.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    values: dict[str, Any] = {
        "reference": verified.reference,
        "staff_id": other_staff.id,
        "task_id": 1,
        "sweep_id": 1,
        "template_id": 1,
        "document_id": 1,
        "identity_id": 1,
    }
    tokens = {
        "public.verify": verify_path.rsplit("/", 1)[1],
        "public.cancel": status_path.rsplit("/", 1)[1],
        "public.answer": status_path.rsplit("/", 1)[1],
        "public.new_download_link": status_path.rsplit("/", 1)[1],
    }
    fields = {
        "email": "third@example.org",
        "request_type": "access",
        "language": "en",
        "message": "Please look again.",
        "answer": "Here is my answer.",
        "password": "correct horse battery staple",
        "current_password": "correct horse battery staple",
        "new_password": "another long enough passphrase",
        "confirmation": "another long enough passphrase",
        "code": "123456",
        "role": "dpo",
        "name": "Camille",
        "query": "second@example.org",
        "reason": "Because the law says so.",
        "note": "An internal note.",
        "months": "2",
        "ground": "complexity",
        "assignee": str(other_staff.id),
        "title": "A manual task",
    }
    checked: list[str] = []
    changed_when_accepted = 0
    for rule in _post_rules(app):
        actions = sorted(DASHBOARD_ACTIONS) if rule.endpoint == "dashboard.act" else [None]
        for action in actions:
            built: dict[str, Any] = {}
            for name in rule.arguments:
                if name == "token":
                    built[name] = tokens.get(rule.endpoint, uuid.uuid4().hex)
                elif name == "action" and action is not None:
                    built[name] = action
                else:
                    built[name] = values[name]
            path = rule.build(built, append_unknown=False)
            assert path is not None
            url = path[1]
            where = f"POST {url} ({rule.endpoint})"

            [current] = [r for r in stored_requests(app) if r.id == verified.id]
            fields["version_id"] = str(current.version_id)
            snapshot = store_snapshot(app)
            refused = admin.post(url, data=fields)
            assert _is_csrf_page(refused), where
            assert store_snapshot(app) == snapshot, f"{where} changed the store"
            assert admin.get("/staff/").status_code == 200, f"{where} ended the session"

            token = csrf_token(admin.get("/"))
            accepted = admin.post(url, data={**fields, "csrf_token": token})
            assert accepted.status_code < 500, where
            assert not _is_csrf_page(accepted), f"{where}: refused even with its token"
            changed_when_accepted += store_snapshot(app) != snapshot
            checked.append(rule.endpoint)
    assert set(checked) == POST_ENDPOINTS
    assert changed_when_accepted >= 8  # many forged posts would have done something
    assert len(checked) == len(POST_ENDPOINTS) - 1 + len(DASHBOARD_ACTIONS)
