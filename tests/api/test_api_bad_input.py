"""Bad input to the API: each case gets an RFC 9457 problem (4xx, never HTML, never a 500) and
nothing is stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import ApiCaller, assert_problem, new_request, stored_counts
from tests.conftest import MakeApp

pytestmark = pytest.mark.databases("sqlite", "postgresql")

JSON = "application/json"


def raw(body: bytes | str, content_type: str = JSON) -> dict[str, Any]:
    return {"data": body, "content_type": content_type}


UNREADABLE: dict[str, tuple[dict[str, Any], int, str]] = {
    "text/plain": (raw("{}", "text/plain"), 415, "unsupported-media-type"),
    "form": (raw("email=a%40b.org", "application/x-www-form-urlencoded"), 415, ""),
    "form not UTF-8": (raw(b"email=%FF", "application/x-www-form-urlencoded"), 400, ""),
    "latin-1 charset": (raw("{}", "application/json; charset=latin-1"), 415, ""),
    "no body": (raw(b""), 400, "invalid-json"),
    "broken JSON": (raw(b'{"subject_request_type": '), 400, "invalid-json"),
    "not UTF-8": (raw(b'{"message": "caf\xe9"}'), 400, "not-utf-8"),
    "UTF-8 BOM": (raw(b"\xef\xbb\xbf{}"), 400, "invalid-json"),
    "NaN": (raw(b'{"message": NaN}'), 400, "invalid-json"),
    "deeply nested": (raw(b"[" * 60_000 + b"]" * 60_000), 400, "invalid-json"),
    "huge integer": (raw(b'{"language": ' + b"9" * 5000 + b"}"), 400, "invalid-json"),
    "NUL in text": (raw(json.dumps(new_request(message="a\u0000b"))), 400, "invalid-text"),
    "lone surrogate": (raw(b'{"message": "\\ud800"}'), 400, "invalid-text"),
    "surrogate key": (raw(b'{"\\udfff": 1}'), 400, "invalid-text"),
    "too large": (raw(json.dumps(new_request(message="x" * 200_000))), 413, "body-too-large"),
}


@pytest.mark.parametrize(("kwargs", "status", "slug"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_bodies(
    app: Flask, platform: ApiCaller, kwargs: dict[str, Any], status: int, slug: str
) -> None:
    before = stored_counts(app)
    response = platform.client.post("/api/v1/requests", headers=platform.headers(), **kwargs)
    problem = assert_problem(response, status)
    if slug:
        assert problem["type"].endswith("/" + slug)
    assert stored_counts(app) == before


INVALID: dict[str, tuple[object, str]] = {
    "array": ([new_request()], ""),
    "string": ("access", ""),
    "null": (None, ""),
    "unknown type": (new_request(subject_request_type="everything"), "/subject_request_type"),
    "type as number": (new_request(subject_request_type=1), "/subject_request_type"),
    "missing type": (
        {"subject_identities": {"email": "a@example.org"}},
        "/subject_request_type",
    ),
    "missing identities": ({"subject_request_type": "access"}, "/subject_identities"),
    "identities as list": (
        new_request(subject_identities=["a@example.org"]),
        "/subject_identities",
    ),
    "unknown identity": (
        new_request(subject_identities={"email": "a@example.org", "phone": "+33"}),
        "/subject_identities/phone",
    ),
    "invalid email": (
        new_request(subject_identities={"email": "not an address@learners.test"}),
        "/subject_identities/email",
    ),
    "email with two @": (
        new_request(subject_identities={"email": "a@b@learners.test"}),
        "/subject_identities/email",
    ),
    "overlong email": (
        new_request(subject_identities={"email": "a" * 250 + "@learners.test"}),
        "/subject_identities/email",
    ),
    "email as number": (new_request(subject_identities={"email": 42}), "/subject_identities/email"),
    "unknown language": (new_request(language="de"), "/language"),
    "overlong message": (new_request(message="x" * 5001), "/message"),
    "message as object": (new_request(message={"text": "hi"}), "/message"),
    "unknown field": (new_request(subject="hi"), "/subject"),
    "rectification missing": (new_request(subject_request_type="rectification"), "/rectification"),
    "rectification blank": (
        new_request(subject_request_type="rectification", rectification="   "),
        "/rectification",
    ),
    "rectification for access": (new_request(rectification="my name"), "/rectification"),
    "overlong rectification": (
        new_request(subject_request_type="rectification", rectification="x" * 2001),
        "/rectification",
    ),
    "plain http callback": (
        new_request(status_callback_urls=["http://example.org/hook"]),
        "/status_callback_urls",
    ),
    "callback not a URL": (
        new_request(status_callback_urls=["hooks please"]),
        "/status_callback_urls",
    ),
    "callback with credentials": (
        new_request(status_callback_urls=["https://user:pw@example.org/hook"]),
        "/status_callback_urls",
    ),
    "callback with a bad port": (
        new_request(status_callback_urls=["https://example.org:99999/hook"]),
        "/status_callback_urls",
    ),
    "four callbacks": (
        new_request(status_callback_urls=[f"https://example.org/{n}" for n in range(4)]),
        "/status_callback_urls",
    ),
    "duplicate callbacks": (
        new_request(status_callback_urls=["https://example.org/h", "https://example.org/h"]),
        "/status_callback_urls",
    ),
    "callback as string": (
        new_request(status_callback_urls="https://example.org/h"),
        "/status_callback_urls",
    ),
}


@pytest.mark.parametrize(("body", "pointer"), INVALID.values(), ids=INVALID.keys())
def test_bodies_of_the_wrong_shape(
    app: Flask, platform: ApiCaller, body: object, pointer: str
) -> None:
    before = stored_counts(app)
    response = platform.client.post(
        "/api/v1/requests", data=json.dumps(body), content_type=JSON, headers=platform.headers()
    )
    problem = assert_problem(response, 422)
    assert problem["errors"], problem
    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert all(error["detail"] for error in problem["errors"])
    assert "learners.test" not in json.dumps(problem)  # what was sent is never echoed
    assert stored_counts(app) == before


def test_every_error_is_listed_at_once(platform: ApiCaller) -> None:
    body = {"subject_request_type": "x", "subject_identities": {"email": "nope"}, "language": "de"}
    problem = assert_problem(platform.post(body), 422)
    assert {e["pointer"] for e in problem["errors"]} == {
        "/subject_request_type",
        "/subject_identities/email",
        "/language",
    }


def test_loopback_http_callbacks_only_when_allowed(make_app: MakeApp) -> None:
    from tests.api.conftest import issue_token

    app = make_app()
    platform = ApiCaller(app.test_client(), issue_token(app, "learner-platform"))
    body = new_request(status_callback_urls=["http://127.0.0.1:8080/hook"])
    problem = assert_problem(platform.post(body), 422)
    assert "loopback" in problem["errors"][0]["detail"]

    allowed: Flask = make_app(CALLBACK_ALLOWED_NETWORKS="127.0.0.0/8")
    platform = ApiCaller(allowed.test_client(), platform.token)
    assert platform.post(body).status_code == 201


@pytest.mark.parametrize("key", ["", "with space", "x" * 129, "clé"], ids=str)
def test_malformed_idempotency_keys(app: Flask, platform: ApiCaller, key: str) -> None:
    before = stored_counts(app)
    headers = platform.headers({"Idempotency-Key": key})
    response = platform.client.post("/api/v1/requests", json=new_request(), headers=headers)
    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/invalid-idempotency-key")
    assert stored_counts(app) == before


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("POST", "/api/v2/requests", 404),
        ("GET", "/api/", 404),
        ("PUT", "/api/v1/requests", 405),
        ("PATCH", "/api/v1/requests/DSR-2026-000001", 405),
        ("POST", "/api/v1/openapi.json", 405),
    ],
)
def test_unknown_routes_and_methods(
    app: Flask, platform: ApiCaller, method: str, path: str, status: int
) -> None:
    response = platform.client.open(path, method=method, headers=platform.headers(), json={})
    assert_problem(response, status)
    if status == 405:
        assert response.headers["Allow"]


def test_html_message_is_accepted_and_never_echoed(platform: ApiCaller) -> None:
    response = platform.post(new_request(message='<img src=x onerror="alert(1)">'))
    assert response.status_code == 201
    assert "<img" not in response.get_data(as_text=True)
