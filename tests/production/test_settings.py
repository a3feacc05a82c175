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
from tests.web.conftest import MakeApp, make_app, smtp_server, store_url

__all__ = ["make_app", "smtp_server", "store_url"]  # the fixtures used here

LONG_SECRET = "a-production-secret-of-forty-eight-characters-xy"
UNSET = object()


def _production(store_url: str, **settings: Any) -> Flask:
    config: dict[str, Any] = {
        "TESTING": True,
        "ENV": "production",
        "DATABASE_URL": store_url,
        "SECRET_KEY": LONG_SECRET,
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
        response = app.test_client().get("/")
    finally:
        db.get_engine(app).dispose()
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert app.config["PREFERRED_URL_SCHEME"] == "https"


def test_development_still_starts_with_the_default_secret(make_app: MakeApp) -> None:
    app = make_app(SECRET_KEY="dev")
    assert app.test_client().get("/").status_code == 200
