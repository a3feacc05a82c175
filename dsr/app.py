"""The Flask application factory: settings, the store, and (as they come) extensions and
blueprints are registered here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response

from dsr import db, errors, i18n
from dsr.accounts import access
from dsr.accounts import views as accounts_views
from dsr.api import views as api_views
from dsr.config import default_instance_path, default_settings
from dsr.dashboard import queue, request_views  # noqa: F401  (they register their routes)
from dsr.dashboard.blueprint import blueprint as dashboard_blueprint
from dsr.delivery import views as delivery_views
from dsr.demo import views as demo_views
from dsr.execution import certificate_views, dashboard_views
from dsr.extensions import csrf, limiter
from dsr.requests import views as public_views
from dsr.scheduler import views as scheduler_views  # noqa: F401  (registers its page)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: templates/ and static/ are at its root, beside the packages."""

WEB_SETTINGS: Mapping[str, Any] = {
    "MAX_CONTENT_LENGTH": 128 * 1024,  # the longest form, all in 4-byte characters, fits
    "SESSION_COOKIE_SAMESITE": "Lax",
    "RATELIMIT_STORAGE_URI": "memory://",
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


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application; refuse to start on a database whose schema is behind.

    Settings come from the defaults, then `instance/config.py`, then `DSR_...` environment
    variables (e.g. DSR_DATABASE_URL, DSR_SECRET_KEY); `test_config` replaces the last two.
    Raise `db.DatabaseNotUpToDate`, naming the command to run, when the store needs migrating.
    """
    instance_path = default_instance_path()
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.jinja_options = {**app.jinja_options, "trim_blocks": True, "lstrip_blocks": True}
    app.config.from_mapping(default_settings(instance_path))
    app.config.from_mapping(WEB_SETTINGS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("DSR")
        # The map's systems name the variables holding their URLs (e.g. POINT3_PLATFORM_URL),
        # read here once, as the `dsr` commands read them.
        app.config.setdefault("SYSTEM_ENVIRONMENT", dict(os.environ))
    else:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

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
    access.init_app(app)  # every route not declared public needs a staff login
    demo_views.init_app(app)  # the demo's mail page, only when DEMO_MODE is set
    app.after_request(_set_security_headers)
    return app


def _set_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
