"""The `dashboard` blueprint, mounted at /dashboard, that every dashboard page registers on, and
what its pages share: the navigation (the data map comes from `dsr.datamap`).

Views live in their own modules (queue.py, request_views.py...), each registering its routes on
`blueprint` when imported: `create_app` imports them before it registers the blueprint.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import flask_babel  # type: ignore[import-untyped]
from flask import Blueprint, current_app, request, url_for
from markupsafe import Markup

from dsr.accounts.access import current_staff
from dsr.accounts.models import StaffRole
from dsr.i18n import lazy_gettext

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("dashboard.queue", lazy_gettext("Queue")),
    ("dashboard.tasks", lazy_gettext("Tasks")),
    ("dashboard.audit", lazy_gettext("Audit")),
    ("dashboard.data_map", lazy_gettext("Data map")),
    ("dashboard.figures", lazy_gettext("Figures")),
    ("dashboard.scheduler", lazy_gettext("Scheduler")),
    ("dashboard.retention", lazy_gettext("Retention")),
    ("dashboard.answer_templates", lazy_gettext("Answer templates")),
)
"""The sections of the dashboard by endpoint; a section whose view is not registered is hidden."""
ADMIN_SECTIONS = frozenset({"dashboard.answer_templates"})
"""The sections shown to admins only (their views refuse the others)."""

LOGOUT_ENDPOINTS = ("accounts.logout", "auth.logout")
_NAVIGATION_KEY = "dsr.dashboard.navigation"


@dataclass(frozen=True, slots=True)
class NavigationItem:
    endpoint: str
    label: str
    url: str


def navigation() -> tuple[NavigationItem, ...]:
    """Return the dashboard's sections whose views exist in this application (and that the staff
    member's role may open), labelled in the request's language: worked out once per
    application, script root, language and kind of reader (every dashboard page shows them)."""
    user = current_staff()
    admin = user is not None and user.role is StaffRole.ADMIN
    key = (request.script_root, str(flask_babel.get_locale()), admin)
    known: dict[tuple[str, str, bool], tuple[NavigationItem, ...]]
    known = current_app.extensions.setdefault(_NAVIGATION_KEY, {})
    items = known.get(key)
    if items is None:
        items = known[key] = tuple(_sections(admin))
    return items


def _sections(admin: bool) -> Iterator[NavigationItem]:
    views = current_app.view_functions
    for endpoint, label in NAVIGATION:
        if endpoint in views and (admin or endpoint not in ADMIN_SECTIONS):
            # A label as the template placed the lazy one (its translation, as markup).
            yield NavigationItem(endpoint, Markup(str(label)), url_for(endpoint))  # noqa: S704


@dataclass(frozen=True, slots=True)
class LogoutTarget:
    url: str
    by_post: bool


def logout_target() -> LogoutTarget | None:
    """Return where the logout button goes (a POST form when the route takes POST), if any."""
    for endpoint in LOGOUT_ENDPOINTS:
        if endpoint in current_app.view_functions:
            methods: set[str] = set()
            for rule in current_app.url_map.iter_rules(endpoint):
                methods |= rule.methods or set()
            return LogoutTarget(url_for(endpoint), by_post="POST" in methods)
    return None


@blueprint.app_context_processor
def _dashboard_globals() -> dict[str, object]:
    return {"dashboard_navigation": navigation, "dashboard_logout": logout_target}
