"""The Flask application factory: settings, the store, and (as they come) extensions and
blueprints are registered here and nowhere else."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask, Response
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import Map

from dsr import config, db, errors, health, i18n, links, logs, sender, store_models
from dsr.accounts import access
from dsr.accounts import admin_views as _accounts_admin_views  # noqa: F401 - its routes
from dsr.accounts import views as accounts_views
from dsr.api import views as api_views
from dsr.api.callback_addresses import ALLOWED_NETWORKS_KEY, parse_allowed_networks
from dsr.dashboard import (  # noqa: F401  (they register their routes)
    answer_template_views,
    channel_views,
    document_views,
    hold_actions,
    mention_views,
    queue,
    request_actions,
    request_views,
    requester_views,
)
from dsr.dashboard.blueprint import blueprint as dashboard_blueprint
from dsr.delivery import views as delivery_views
from dsr.demo import views as demo_views
from dsr.execution import certificate_views
from dsr.extensions import csrf, limiter
from dsr.notice import views as notice_views
from dsr.requests import labels as request_labels
from dsr.requests import views as public_views
from dsr.scheduler import views as scheduler_views  # noqa: F401  (registers its page)

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent
"""The dsr package: its templates/ and static/ ship inside it (package data), so a wheel works."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
"""No script at all, inline or not: the pages work without JavaScript."""


class DeskApp(Flask):
    """Flask, logging an unhandled exception with its route pattern instead of its path."""

    def log_exception(
        self,
        exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        logs.log_exception(self, exc_info)


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, its signer built once per secret key (and fallbacks)
    rather than twice in every request: reading and writing the cookie of each public page
    rebuilt it (issue 17)."""

    _built: tuple[tuple[object, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built = self._built
        if built is None or built[0] != keys:
            built = self._built = (keys, super().get_signing_serializer(app))
        return built[1]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application; refuse to start on a database whose schema is behind, or in
    production (DSR_ENV=production) with unsafe settings such as the default secret key.

    Settings come from `config.Settings`: the defaults, then `instance/config.py`, then `DSR_...`
    environment variables (e.g. DSR_DATABASE_URL, DSR_SECRET_KEY); `test_config` replaces the
    last two.
    Raise `db.DatabaseNotUpToDate`, naming the command to run, when the store needs migrating,
    and `config.InsecureConfiguration`, naming the variable to set, when production is unsafe.
    """
    instance_path = config.default_instance_path()
    if test_config is None:
        settings = config.Settings.from_process(instance_path=instance_path)
    else:
        settings = config.Settings.from_mapping(test_config, instance_path=instance_path)
    app = DeskApp(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(PACKAGE_ROOT / "templates"),
        static_folder=str(PACKAGE_ROOT / "static"),
    )
    app.jinja_options = {**app.jinja_options, "trim_blocks": True, "lstrip_blocks": True}
    app.session_interface = SessionCookies()
    app.config.from_mapping(settings.values)
    app.extensions[config.SETTINGS_KEY] = settings
    _check_environment(app, configured_by_environment=test_config is None)
    # Read once; a block that is no network stops the start with a message naming the setting.
    app.config[ALLOWED_NETWORKS_KEY] = parse_allowed_networks(app.config[ALLOWED_NETWORKS_KEY])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    logs.init_app(app)  # first: its clock starts before, and its line is written after, all others
    store_models.import_models()
    db.init_app(app)
    try:
        db.ensure_database_is_current(db.get_engine(app))
    except db.DatabaseNotUpToDate:
        db.get_engine(app).dispose()
        raise

    errors.init_app(app)  # first: it refuses undecodable forms before the CSRF check reads them
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    sender.init_app(app)  # the organisation and its DPO, named on every page
    request_labels.init_app(app)
    csrf.exempt(api_views.blueprint)  # bearer tokens, no session: nothing for CSRF to protect
    _register_routes(app)
    access.init_app(app)  # every route not declared public needs a staff login
    app.after_request(_set_security_headers)
    if config.is_production(app.config):
        _send_strict_transport_security(app)
    _trust_proxies(app)
    return app


@functools.cache
def desk_url_map() -> Map:
    """Return the desk's routes, from an application made for that alone (no store, extension or
    setting): what a command outside any application builds its public links from."""
    app = DeskApp(__name__, static_folder=str(PACKAGE_ROOT / "static"))
    _register_routes(app)
    return app.url_map


def _register_routes(app: Flask) -> None:
    app.register_blueprint(public_views.blueprint)
    app.register_blueprint(accounts_views.blueprint)
    app.register_blueprint(dashboard_blueprint)
    app.register_blueprint(delivery_views.blueprint)  # the requester's download
    app.register_blueprint(certificate_views.blueprint)  # public: the erasure certificate link
    app.register_blueprint(notice_views.blueprint)  # public: the privacy notice
    app.register_blueprint(access.public_blueprint(api_views.blueprint))  # checks its tokens
    access.public_blueprint(demo_views.blueprint)
    health.init_app(app)  # public: /healthz, for load balancers and monitoring
    demo_views.init_app(app)  # the demo's mail page, only when DEMO_MODE is set


def _trust_proxies(app: Flask) -> None:
    """Take the client's address and scheme from the TRUSTED_PROXIES reverse proxies, and the
    host from their X-Forwarded-Host only when TRUST_FORWARDED_HOST says the proxy sets it."""
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        forwarded_host = (
            proxies
            if config.flag(app.config.get("TRUST_FORWARDED_HOST"), "DSR_TRUST_FORWARDED_HOST")
            else 0
        )
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=forwarded_host
        )


def _send_strict_transport_security(app: Flask) -> None:
    """Tell browsers to come back over HTTPS only, for HSTS_MAX_AGE seconds (0: no header)."""
    max_age = int(app.config["HSTS_MAX_AGE"])
    if max_age <= 0:
        return
    value = f"max-age={max_age}"
    if config.flag(app.config.get("HSTS_INCLUDE_SUBDOMAINS"), "DSR_HSTS_INCLUDE_SUBDOMAINS"):
        value += "; includeSubDomains"

    def add_header(response: Response) -> Response:
        response.headers.setdefault("Strict-Transport-Security", value)
        return response

    app.after_request(add_header)


def _check_environment(app: Flask, *, configured_by_environment: bool) -> None:
    """Set up logging and refuse unsafe production settings, before anything else runs.

    Logs go to stderr as JSON in production (DSR_LOG_FORMAT changes it); in development they are
    left alone, except that the development server's access lines lose their paths. Tests
    (TESTING) leave logging to the test runner. In production only the public URL's host (and
    ALLOWED_HOSTS) is answered.
    """
    production = config.is_production(app.config)
    log_format = app.config.get("LOG_FORMAT") or (logs.JSON if production else None)
    if log_format and not app.testing:
        logs.configure(str(log_format))
    elif configured_by_environment and not production:
        logs.redact_werkzeug_access_lines()
    try:
        config.check_settings(app.config)
    except config.InsecureConfiguration as error:
        log.critical("%s", error)  # also in the logs when a server hides the traceback
        raise
    if production:
        app.config["PREFERRED_URL_SCHEME"] = "https"
        # Flask answers 400 to a request for any other host (a forged Host header).
        app.config["TRUSTED_HOSTS"] = [
            links.public_host(app.config),
            *config.allowed_hosts(app.config),
        ]


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)
"""Sent with every response that does not set them itself (a private page's Referrer-Policy)."""


def _set_security_headers(response: Response) -> Response:
    """Add each of SECURITY_HEADERS the response lacks, as `Headers.setdefault` would, from one
    look at its names: a missing name costs `setdefault` an exception (issue 17)."""
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    return response
