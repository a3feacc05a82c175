"""Production mode (DSR_ENV=production) refuses the settings that would make the desk unsafe and
warns about those that only make it work less well; development starts as before."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from dsr import db
from dsr.app import create_app
from dsr.config import InsecureConfiguration
from tests.conftest import MakeApp

LONG_SECRET = "a-production-secret-of-forty-eight-characters-xy"
PUBLIC_URL = "https://privacy.example.org"
UNSET = object()


def _production(store_url: str, **settings: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "ENV": "production",
        "DATABASE_URL": store_url,
        "SECRET_KEY": LONG_SECRET,
        "PUBLIC_URL": PUBLIC_URL,
    }
    config.update(settings)
    config = {name: value for name, value in config.items() if value is not UNSET}
    return create_app(config)


@pytest.mark.parametrize(
    "secret",
    [UNSET, "dev", "", "x" * 31],
    ids=["not set", "the default", "empty", "31 characters"],
)
def test_production_refuses_a_weak_secret_key(store_url: str, secret: object) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_SECRET_KEY") as refused:
        _production(store_url, SECRET_KEY=secret)
    assert "refuses to start in production" in str(refused.value)


def test_production_refuses_short_derived_keys_and_an_insecure_cookie(store_url: str) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_PSEUDONYMISATION_KEY"):
        _production(store_url, PSEUDONYMISATION_KEY="short")
    with pytest.raises(InsecureConfiguration, match="DSR_SESSION_COOKIE_SECURE"):
        _production(store_url, SESSION_COOKIE_SECURE=False)


def test_an_unknown_environment_is_refused(store_url: str) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_ENV must be development or production"):
        _production(store_url, ENV="prod")


def test_production_starts_with_a_long_secret_and_warns_about_what_does_not_scale(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dsr.config"):
        app = _production(store_url)
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert "SQLite" in warned and "DSR_DATABASE_URL" in warned
    assert "DSR_RATELIMIT_STORAGE_URI" in warned
    try:
        response = app.test_client().get("/", base_url=PUBLIC_URL)
    finally:
        db.get_engine(app).dispose()
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert app.config["PREFERRED_URL_SCHEME"] == "https"


def test_development_still_starts_with_the_default_secret(make_app: MakeApp) -> None:
    app = make_app(SECRET_KEY="dev")
    assert app.test_client().get("/").status_code == 200


@pytest.mark.parametrize(
    ("public_url", "said"),
    [
        (UNSET, "DSR_PUBLIC_URL is not set"),
        ("", "DSR_PUBLIC_URL is not set"),
        ("http://privacy.example.org", "DSR_PUBLIC_URL must start with https://"),
        ("privacy.example.org", "DSR_PUBLIC_URL must be the desk's address"),
        ("https://privacy.example.org/?next=1", "DSR_PUBLIC_URL must be the desk's address"),
    ],
    ids=["not set", "empty", "plain http", "no scheme", "a query"],
)
def test_production_refuses_to_start_without_an_https_public_url(
    store_url: str, public_url: object, said: str
) -> None:
    with pytest.raises(InsecureConfiguration, match=said) as refused:
        _production(store_url, PUBLIC_URL=public_url)
    assert "refuses to start in production" in str(refused.value)


def test_a_public_url_that_is_not_an_address_is_refused_in_development_too(
    make_app: MakeApp,
) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_PUBLIC_URL must be"):
        make_app(PUBLIC_URL="privacy desk")


def test_production_answers_only_the_public_host_and_the_allowed_ones(store_url: str) -> None:
    app = _production(
        store_url,
        PUBLIC_URL="https://privacy.example.org/desk",
        ALLOWED_HOSTS="desk-1.internal, 10.0.0.5",
    )
    client = app.test_client()
    try:
        answers = {
            base: client.get("/", base_url=base).status_code
            for base in (
                "https://privacy.example.org",
                "https://PRIVACY.example.org:443",
                "http://desk-1.internal:8000",
                "http://10.0.0.5",
                "https://evil.example",
                "https://privacy.example.org.evil.example",
                "http://localhost",
            )
        }
        forged = [
            client.post("/staff/password/forgot", base_url="https://evil.example").status_code,
            client.get("/dashboard/", base_url="https://evil.example").status_code,
            client.get("/api/v1/requests/X", base_url="https://evil.example").status_code,
            client.get("/no-such-page", base_url="https://evil.example").status_code,
        ]
        refusal = client.get(
            "/", base_url="https://evil.example", headers={"Accept-Language": "fr"}
        )
    finally:
        db.get_engine(app).dispose()
    assert answers == {
        "https://privacy.example.org": 200,
        "https://PRIVACY.example.org:443": 200,
        "http://desk-1.internal:8000": 200,
        "http://10.0.0.5": 200,
        "https://evil.example": 400,
        "https://privacy.example.org.evil.example": 400,
        "http://localhost": 400,
    }
    assert forged == [400, 400, 400, 400]
    assert "Cette adresse n'est pas celle du service" in refusal.get_data(as_text=True)


def test_development_answers_any_host(make_app: MakeApp) -> None:
    client = make_app().test_client()
    assert client.get("/", base_url="http://evil.example").status_code == 200


def test_production_sends_strict_transport_security(store_url: str) -> None:
    apps = [
        _production(store_url),
        _production(store_url, HSTS_MAX_AGE=600, HSTS_INCLUDE_SUBDOMAINS=True),
        _production(store_url, HSTS_MAX_AGE=0),
    ]
    try:
        headers = [
            app.test_client().get("/", base_url=PUBLIC_URL).headers.get("Strict-Transport-Security")
            for app in apps
        ]
    finally:
        for app in apps:
            db.get_engine(app).dispose()
    assert headers == ["max-age=31536000", "max-age=600; includeSubDomains", None]


def test_development_sends_no_strict_transport_security(make_app: MakeApp) -> None:
    response = make_app().test_client().get("/")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize(
    "name",
    [
        "HSTS_INCLUDE_SUBDOMAINS",
        "TRUST_FORWARDED_HOST",
        "DELIVER_AFTER_COMMIT",
        "EXECUTE_AFTER_APPROVAL",
    ],
)
def test_a_yes_no_setting_that_is_neither_stops_the_start_naming_it(
    make_app: MakeApp, name: str
) -> None:
    """A typo ("ture") must not silently turn a setting off (or on): the web side queued the
    work on a typo's truthiness while the workers read the same setting strictly."""
    with pytest.raises(InsecureConfiguration, match=f"DSR_{name} must be true or false"):
        make_app(**{name: "ture"})


@pytest.mark.parametrize(("given", "sent"), [("yes", True), ("off", False), ("1", True)])
def test_a_yes_no_setting_may_be_written_in_words(store_url: str, given: str, sent: bool) -> None:
    app = _production(store_url, HSTS_INCLUDE_SUBDOMAINS=given)
    try:
        header = (
            app.test_client().get("/", base_url=PUBLIC_URL).headers["Strict-Transport-Security"]
        )
    finally:
        db.get_engine(app).dispose()
    assert header.endswith("; includeSubDomains") is sent


def test_production_refuses_to_run_jobs_inside_web_requests(store_url: str) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_QUEUE_URL is immediate"):
        _production(store_url, QUEUE_URL="immediate")
    _production(store_url, QUEUE_URL="redis://127.0.0.1:6379/0")  # workers on several machines


def test_a_queue_the_workers_cannot_use_is_refused_at_start(store_url: str) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_QUEUE_URL must be"):
        create_app({"TESTING": True, "DATABASE_URL": store_url, "QUEUE_URL": "amqp://rabbit"})


@pytest.mark.parametrize("value", ["soon", 0, -1, True])
def test_a_worker_setting_that_is_no_positive_number_is_refused_at_start(
    store_url: str, value: object
) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_WORKER_LEASE_SECONDS must be"):
        create_app({"TESTING": True, "DATABASE_URL": store_url, "WORKER_LEASE_SECONDS": value})


@pytest.mark.parametrize("value", ["low", -1, 20, 2.5, True])
def test_a_worker_priority_that_is_no_niceness_is_refused_at_start(
    store_url: str, value: object
) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_WORKER_NICE must be a whole number"):
        create_app({"TESTING": True, "DATABASE_URL": store_url, "WORKER_NICE": value})
