"""The Flask application factory: settings, the store, and (as they come) extensions and
blueprints are registered here and nowhere else."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from dsr import config, db, errors, health, i18n, logs
from dsr.accounts import access
from dsr.accounts import views as accounts_views
from dsr.api import views as api_views
from dsr.api.callback_addresses import ALLOWED_NETWORKS_KEY, parse_allowed_networks
from dsr.dashboard import queue, request_views  # noqa: F401  (they register their routes)
from dsr.dashboard.blueprint import blueprint as dashboard_blueprint
from dsr.delivery import views as delivery_views
from dsr.demo import views as demo_views
from dsr.execution import certificate_views, dashboard_views
from dsr.extensions import csrf, limiter
from dsr.requests import views as public_views
from dsr.scheduler import views as scheduler_views  # noqa: F401  (registers its page)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: templates/ and static/ are at its root, beside the packages."""

WEB_SETTINGS: Mapping[str, Any] = {
    "MAX_CONTENT_LENGTH": 128 * 1024,  # the longest form, all in 4-byte characters, fits
    "SESSION_COOKIE_SAMESITE": "Lax",
    "RATELIMIT_STORAGE_URI": "memory://",
    # Said for every application: Flask-Limiter's one `limiter` would otherwise keep the last
    # application's choice (an app made with limits off would leave them off for the next one).
    "RATELIMIT_ENABLED": True,
    **public_views.PUBLIC_SETTINGS,
    **accounts_views.STAFF_SETTINGS,
    **api_views.API_SETTINGS,
    **delivery_views.DELIVERY_SETTINGS,
}

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


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application; refuse to start on a database whose schema is behind, or in
    production (DSR_ENV=production) with unsafe settings such as the default secret key.

    Settings come from the defaults, then `instance/config.py`, then `DSR_...` environment
    variables (e.g. DSR_DATABASE_URL, DSR_SECRET_KEY); `test_config` replaces the last two.
    Raise `db.DatabaseNotUpToDate`, naming the command to run, when the store needs migrating,
    and `config.InsecureConfiguration`, naming the variable to set, when production is unsafe.
    """
    instance_path = config.default_instance_path()
    app = DeskApp(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.jinja_options = {**app.jinja_options, "trim_blocks": True, "lstrip_blocks": True}
    app.config.from_mapping(config.default_settings(instance_path))
    app.config.from_mapping(WEB_SETTINGS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("DSR")
        # The map's systems name the variables holding their URLs (e.g. POINT3_PLATFORM_URL),
        # read here once, as the `dsr` commands read them.
        app.config.setdefault("SYSTEM_ENVIRONMENT", dict(os.environ))
    else:
        app.config.from_mapping(test_config)
    _check_environment(app, configured_by_environment=test_config is None)
    # Read once; a block that is no network stops the start with a message naming the setting.
    app.config[ALLOWED_NETWORKS_KEY] = parse_allowed_networks(app.config[ALLOWED_NETWORKS_KEY])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    logs.init_app(app)  # first: its clock starts before, and its line is written after, all others
    db.import_models()
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
    app.register_blueprint(public_views.blueprint)
    app.register_blueprint(accounts_views.blueprint)
    app.register_blueprint(dashboard_blueprint)
    app.register_blueprint(delivery_views.blueprint)  # staff's review, requester's download
    app.register_blueprint(certificate_views.blueprint)  # public: the erasure certificate link
    app.register_blueprint(dashboard_views.blueprint)  # erasure plan, rectification, reversals
    csrf.exempt(api_views.blueprint)  # bearer tokens, no session: nothing for CSRF to protect
    app.register_blueprint(access.public_blueprint(api_views.blueprint))  # checks its tokens
    access.public_blueprint(demo_views.blueprint)
    health.init_app(app)  # public: /healthz, for load balancers and monitoring
    access.init_app(app)  # every route not declared public needs a staff login
    demo_views.init_app(app)  # the demo's mail page, only when DEMO_MODE is set
    app.after_request(_set_security_headers)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:  # the client's address and scheme as the reverse proxy saw them
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    return app


def _check_environment(app: Flask, *, configured_by_environment: bool) -> None:
    """Set up logging and refuse unsafe production settings, before anything else runs.

    Logs go to stderr as JSON in production (DSR_LOG_FORMAT changes it); in development they are
    left alone, except that the development server's access lines lose their paths. Tests
    (TESTING) leave logging to the test runner.
    """
    production = config.is_production(app.config)
    log_format = app.config.get("LOG_FORMAT") or (logs.JSON if production else None)
    if log_format and not app.testing:
        logs.configure(str(log_format))
    elif configured_by_environment and not production:
        logs.redact_werkzeug_access_lines()
    if production:
        app.config["PREFERRED_URL_SCHEME"] = "https"
        try:
            config.check_production(app.config)
        except config.InsecureConfiguration as error:
            log.critical("%s", error)  # also in the logs when a server hides the traceback
            raise


def _set_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
