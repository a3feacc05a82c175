"""A NUL character anywhere in a URL or a form is refused with a 4xx, never a 5xx, on the engine
that cannot hold one: PostgreSQL refuses NUL in text even to compare it, so a lookup by
reference or an audit filter holding one used to fail with a 500. The test walks the whole URL
map as an admin: every route with a NUL in each path argument and in the query string, and every
POST outside the JSON API (which refuses NUL in its own way) with a NUL in a form field, which
must be refused and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from dsr import db
from tests.accounts.helpers import login, make_staff
from tests.hostile.conftest import store_snapshot
from tests.pages import csrf_token

pytestmark = pytest.mark.databases("postgresql")

SAMPLE_VALUES: dict[str, Any] = {"IntegerConverter": 1, "UUIDConverter": "0" * 32}


@pytest.fixture
def app_config(migrated_url: str) -> dict[str, Any]:
    """On this run's engine, every blueprint, the demo's included, and no rate limits."""
    return {
        "DATABASE_URL": migrated_url,
        "SECRET_KEY": "a secret for the hostile tests only",
        "RATELIMIT_ENABLED": False,
        "DEMO_MODE": True,
    }


def _with_nul(rule: Rule) -> Iterator[str]:
    """Yield the rule's URL with a NUL in each of its string arguments in turn."""
    names = [
        name
        for name, converter in rule._converters.items()
        if type(converter).__name__ in ("UnicodeConverter", "PathConverter")
    ]
    for poisoned in names:
        values = {
            name: SAMPLE_VALUES.get(type(converter).__name__, "DSR-2026-000001")
            for name, converter in rule._converters.items()
        }
        for name, converter in rule._converters.items():
            if type(converter).__name__ == "AnyConverter":
                values[name] = next(iter(converter.items))  # type: ignore[attr-defined]
        values[poisoned] = "DSR\x00-2026-000001"
        built = rule.build(values, append_unknown=False)
        assert built is not None
        yield built[1]


def test_nul_in_any_url_or_form_is_refused_without_a_server_error(app: Flask) -> None:
    admin = make_staff(db.get_engine(app), role="admin")
    client = app.test_client()
    assert login(client, admin.email).status_code == 302
    checked = 0
    for rule in app.url_map.iter_rules():
        methods = rule.methods or set()
        if "GET" in methods:
            for path in [*_with_nul(rule)]:
                answer = client.get(path)
                assert 400 <= answer.status_code < 500, f"GET {path}: {answer.status_code}"
                checked += 1
            if not rule.arguments:
                answer = client.get(f"{rule.rule}?q=%00&status=%00&page=%00")
                assert 400 <= answer.status_code < 500, f"GET {rule.rule}?…%00"
                checked += 1
        if "POST" in methods and not rule.rule.startswith("/api/") and not rule.arguments:
            csrf = csrf_token(client.get("/"))
            before = store_snapshot(app)
            fields = {"email": "zoe@example.org", "query": "zoe", "title": "A task"}
            for field in ("email", "query", "title", "message", "reason", "note"):
                answer = client.post(
                    rule.rule, data={**fields, "csrf_token": csrf, field: "a\x00b"}
                )
                assert answer.status_code == 400, f"POST {rule.rule} with a NUL in {field}"
            assert store_snapshot(app) == before
            checked += 1
    assert client.get("/staff/").status_code == 200  # still logged in: nothing went wrong
    assert checked > 30
