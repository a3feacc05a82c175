"""Who may reach which route, secure by default (R41).

`init_app` installs a guard that runs before every view: an endpoint not declared public needs a
logged-in, active staff member whose session has not expired; an auditor can only read (GET,
HEAD, OPTIONS) except on the few endpoints declared for any staff member (logout, their own
password and second factor). Declare with `public_endpoint`, `public_blueprint` and
`for_any_staff`; check finer roles with `staff_required`. A route that declares nothing is
staff-only and read-only for auditors: forgetting fails closed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar, cast

import flask_login  # type: ignore[import-untyped]
from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, session, url_for
from werkzeug.wrappers import Response as AnyResponse

from dsr import config
from dsr.accounts.models import StaffRole, StaffUser
from dsr.db import get_session, utcnow
from dsr.i18n import gettext

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

STAFF_PATH_PREFIXES = ("/staff/", "/dashboard/")
"""Where every page for staff lives (their login included): a reverse proxy can send these paths
to gunicorn processes of their own, so that the staff's pages never wait behind the public
form's requests (README, "Running in production"); tests/test_url_map.py holds every staff route
to them."""
LOGIN_ENDPOINT = "accounts.login"
TOTP_ENROLMENT_ENDPOINT = "accounts.totp"

SEEN_KEY = "staff.seen"
LOGIN_AT_KEY = "staff.login_at"

ACCESS_SETTINGS = (
    "TOTP_REQUIRED",
    "STAFF_IDLE_TIMEOUT_MINUTES",
    "PERMANENT_SESSION_LIFETIME",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
)
"""The session settings the guard reads; an application made without `create_app` takes their
defaults from `config.DEFAULTS`."""


class Access(StrEnum):
    """Who may reach an endpoint."""

    PUBLIC = "public"  # anyone, logged in or not
    ANY_STAFF = "any_staff"  # any logged-in staff member, auditors included, with any method
    STAFF = "staff"  # the default: logged-in staff; auditors read only


_ACCESS_ATTRIBUTE = "_dsr_access"
_PUBLIC_ENDPOINTS_KEY = "dsr.access.public_endpoints"

login_manager = flask_login.LoginManager()


def public_endpoint(view: F) -> F:
    """Declare `view` open to anyone (apply below the route decorator)."""
    setattr(view, _ACCESS_ATTRIBUTE, Access.PUBLIC)
    return view


def for_any_staff(view: F) -> F:
    """Declare `view` open to every logged-in staff member, auditors included, whatever the method
    (for what concerns only their own account: logout, password, second factor)."""
    setattr(view, _ACCESS_ATTRIBUTE, Access.ANY_STAFF)
    return view


def public_blueprint(blueprint: Blueprint) -> Blueprint:
    """Declare every endpoint of `blueprint` open to anyone (it checks its callers itself, or
    serves the public)."""
    setattr(blueprint, _ACCESS_ATTRIBUTE, Access.PUBLIC)
    return blueprint


def staff_required(*roles: StaffRole) -> Callable[[F], F]:
    """Refuse (403) the view to staff whose role is not one of `roles`."""
    allowed = frozenset(StaffRole(role) for role in roles)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                abort(403)
            if allowed and user.role not in allowed:
                abort(403, description=gettext("Your role does not give access to this page."))
            return view(*args, **kwargs)

        return cast(F, checked)

    return decorate


def current_staff() -> StaffUser | None:
    """Return the staff member logged in on this request, or None."""
    user = flask_login.current_user
    if isinstance(user, StaffUser):
        return user
    return None


def acting_staff_label() -> str:
    """Return the login of the staff member acting on this web request, as the audit names
    them; answer 403 when no staff member is logged in."""
    user = current_staff()
    if user is None:
        abort(403)
    return user.email


def access_of(app: Flask, endpoint: str, blueprints: list[str] | tuple[str, ...]) -> Access:
    """Return who may reach `endpoint` (within the nested `blueprints`, innermost first)."""
    if endpoint in app.extensions[_PUBLIC_ENDPOINTS_KEY]:
        return Access.PUBLIC
    view = app.view_functions.get(endpoint)
    declared = getattr(view, _ACCESS_ATTRIBUTE, None)
    if isinstance(declared, Access):
        return declared
    for name in blueprints:
        blueprint = app.blueprints.get(name)
        if getattr(blueprint, _ACCESS_ATTRIBUTE, None) is Access.PUBLIC:
            return Access.PUBLIC
    return Access.STAFF


# --- the session --------------------------------------------------------------------------------


def start_staff_session(user: StaffUser, *, now: datetime) -> None:
    """Log `user` in on a brand new session (nothing of the anonymous one is kept but the
    language), so that a session id planted before login is worth nothing after it."""
    language = session.get("lang")
    session.clear()
    if language is not None:
        session["lang"] = language
    session.permanent = True
    flask_login.login_user(user)
    session[LOGIN_AT_KEY] = now.timestamp()
    session[SEEN_KEY] = now.timestamp()


def end_staff_session() -> None:
    language = session.get("lang")
    flask_login.logout_user()
    session.clear()
    if language is not None:
        session["lang"] = language


def _session_expired(now: datetime) -> bool:
    """Tell whether the session was idle too long or is older than its lifetime."""
    idle = timedelta(minutes=float(current_app.config["STAFF_IDLE_TIMEOUT_MINUTES"]))
    lifetime = current_app.permanent_session_lifetime
    seen = session.get(SEEN_KEY)
    login_at = session.get(LOGIN_AT_KEY)
    if not isinstance(seen, int | float) or not isinstance(login_at, int | float):
        return True
    stamp = now.timestamp()
    return stamp - seen > idle.total_seconds() or stamp - login_at > lifetime.total_seconds()


def _load_user(session_id: str) -> StaffUser | None:
    staff_id, _, token = session_id.partition(":")
    if not staff_id.isdigit() or not token:
        return None
    user = get_session().get(StaffUser, int(staff_id))
    if user is None or not user.is_active or user.session_token != token:
        return None
    return user


# --- the guard ----------------------------------------------------------------------------------


def _login_redirect() -> AnyResponse:
    target = request.full_path if request.query_string else request.path
    return redirect(url_for(LOGIN_ENDPOINT, next=target))


def guard() -> AnyResponse | None:
    """Let the request through, send an anonymous visitor to the login page, or refuse it."""
    endpoint = request.endpoint
    if endpoint is None:  # no such route: the 404 or 405 page follows
        return None
    access = access_of(current_app, endpoint, request.blueprints)
    if access is Access.PUBLIC:
        return None
    user = current_staff()
    now = utcnow()
    if user is not None and _session_expired(now):
        end_staff_session()
        flash(gettext("Your session has expired: please log in again."), "error")
        user = None
    if user is None:
        if request.method in ("GET", "HEAD"):
            return _login_redirect()
        abort(403, description=gettext("Log in first."))
    session[SEEN_KEY] = now.timestamp()
    if (
        current_app.config["TOTP_REQUIRED"]
        and not user.totp_enabled
        and access is not Access.ANY_STAFF
    ):
        if request.method in ("GET", "HEAD"):
            return redirect(url_for(TOTP_ENROLMENT_ENDPOINT))
        abort(403, description=gettext("Set up your second factor first."))
    if (
        user.role is StaffRole.AUDITOR
        and request.method not in SAFE_METHODS
        and access is not Access.ANY_STAFF
    ):
        abort(403, description=gettext("Auditors can read but not change anything."))
    return None


def init_app(app: Flask) -> None:
    """Bind Flask-Login and install the guard; call once every blueprint is registered."""
    for name in ACCESS_SETTINGS:
        app.config.setdefault(name, config.DEFAULTS[name])
    app.extensions[_PUBLIC_ENDPOINTS_KEY] = {"static"}
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.session_protection = None  # the guard expires sessions itself
    app.before_request(guard)
    app.jinja_env.globals.update(current_staff=current_staff)
