"""Every route of the application is guarded: the test walks the whole URL map, so that a new
route cannot forget. Non-public routes refuse an anonymous visitor (GET and HEAD lead to the
login page, any other method is refused), and every route that changes something refuses an
auditor, except the few declared for every staff member (their own account).

CSRF is turned off here, so that what refuses is the guard itself, not a missing token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from dsr.accounts.access import SAFE_METHODS, STAFF_PATH_PREFIXES, Access, access_of
from tests.accounts.helpers import StaffClientFactory, staff_client

__all__ = ["staff_client"]  # the fixtures used here

PUBLIC_BLUEPRINTS = {"public", "api", "demo", "certificate", "health", "notice"}
"""The learner's pages, the token-authenticated API, the demo's mailbox, the erasure
certificate reached by its secret link, /healthz for load balancers and monitoring, and the
privacy notice."""

PUBLIC_ENDPOINTS = {
    "static",
    "accounts.login",
    "accounts.login_code",
    "accounts.forgot_password",
    "accounts.forgot_password_sent",
    "accounts.reset_password",
    "accounts.accept_invitation",
    "delivery.download_page",  # the requester's download page: its token and emailed code
    "delivery.download_code",
    "delivery.download_file",
}
"""The only public endpoints outside the public blueprints: what one needs before logging in,
and the requester's download of their reports (guarded by the link's token and a code)."""

FOR_ANY_STAFF = {
    "accounts.logout",
    "accounts.change_password",
    "accounts.totp",
    "accounts.new_recovery_codes",
    "dashboard.search",  # a read, sent by POST so that the searched address stays out of URLs
}
"""The endpoints an auditor may post to: their own session, password and second factor, and
reads that are POSTs."""

DUMMY_VALUES: dict[str, Any] = {
    "IntegerConverter": 1,
    "FloatConverter": 1.5,
    "UUIDConverter": uuid.UUID(int=1),
    "PathConverter": "x/y",
    "UnicodeConverter": "x",
}


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Every blueprint, the demo's included, and no CSRF: what refuses is the guard itself."""
    return {"WTF_CSRF_ENABLED": False, "DEMO_MODE": True}


def _path(rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if kind == "AnyConverter":
            values[name] = next(iter(converter.items))  # type: ignore[attr-defined]
        else:
            values[name] = DUMMY_VALUES.get(kind, "x")
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build a URL for {rule.rule}"
    return built[1]


def _routes(app: Flask) -> Iterator[tuple[Rule, str, str, Access]]:
    """Yield every rule with each of its methods, its URL and who may reach it."""
    for rule in app.url_map.iter_rules():
        blueprints = tuple(reversed(_blueprint_chain(rule.endpoint)))
        access = access_of(app, rule.endpoint, blueprints)
        for method in sorted(rule.methods or ()):
            yield rule, method, _path(rule), access


def _blueprint_chain(endpoint: str) -> list[str]:
    """Return the blueprints of `endpoint`, outermost first ("a.b.view" -> ["a", "a.b"])."""
    parts = endpoint.split(".")[:-1]
    return [".".join(parts[: index + 1]) for index in range(len(parts))]


def test_the_map_has_staff_routes_to_check(app: Flask) -> None:
    accesses = {access for *_, access in _routes(app)}
    assert accesses == {Access.PUBLIC, Access.STAFF, Access.ANY_STAFF}


def test_public_routes_are_only_those_meant_to_be(app: Flask) -> None:
    for rule, *_, access in _routes(app):
        if access is not Access.PUBLIC:
            continue
        blueprint = rule.endpoint.split(".")[0] if "." in rule.endpoint else None
        assert blueprint in PUBLIC_BLUEPRINTS or rule.endpoint in PUBLIC_ENDPOINTS, (
            f"{rule.endpoint} ({rule.rule}) is public: add it to this test if it must be"
        )
    for rule, *_, access in _routes(app):
        if access is Access.ANY_STAFF:
            assert rule.endpoint in FOR_ANY_STAFF, (
                f"{rule.endpoint} lets auditors change things: add it here if it must"
            )


def test_every_staff_route_lives_under_the_staff_prefixes(app: Flask) -> None:
    """A proxy that sends STAFF_PATH_PREFIXES to the staff's own gunicorn sends every staff page
    there, and no page of the learners' or of the API."""
    for rule, _method, path, access in _routes(app):
        under = path.startswith(STAFF_PATH_PREFIXES)
        if access is not Access.PUBLIC:
            assert under, (
                f"{rule.endpoint} ({rule.rule}) is for staff outside {STAFF_PATH_PREFIXES}"
            )
        elif not rule.endpoint.startswith("accounts."):
            assert not under, f"{rule.endpoint} ({rule.rule}) is public under a staff prefix"


def test_every_staff_route_refuses_an_anonymous_visitor(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule, method, path, access in _routes(app):
        if access is Access.PUBLIC:
            continue
        response = client.open(path, method=method)
        where = f"{method} {path} ({rule.endpoint})"
        if method in ("GET", "HEAD"):
            assert response.status_code == 302, where
            assert response.headers["Location"].startswith("/staff/login?next="), where
        else:
            assert response.status_code == 403, where
        checked += 1
    assert checked > 10


def test_every_changing_route_refuses_an_auditor(
    app: Flask, staff_client: StaffClientFactory
) -> None:
    auditor = staff_client("auditor")
    checked = 0
    for rule, method, path, access in _routes(app):
        if access is not Access.STAFF or method in SAFE_METHODS:
            continue
        response = auditor.open(path, method=method)
        assert response.status_code == 403, f"{method} {path} ({rule.endpoint})"
        checked += 1
    assert checked > 3
    assert auditor.get("/staff/").status_code == 200  # still logged in: refused, not logged out
