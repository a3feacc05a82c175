"""The `dashboard` blueprint, mounted at /dashboard, that every dashboard page registers on, and
what its pages share: the navigation and the data map the desk works from.

Views live in their own modules (queue.py, request_views.py...), each registering its routes on
`blueprint` when imported: `create_app` imports them before it registers the blueprint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, current_app, url_for

from dsr.i18n import lazy_gettext
from inventory.loader import load_data_map
from inventory.model import DataMap
from inventory.systems import Systems

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_MAP = PROJECT_ROOT / "data_map.yaml"

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("dashboard.queue", lazy_gettext("Queue")),
    ("dashboard.tasks", lazy_gettext("Tasks")),
    ("dashboard.audit", lazy_gettext("Audit")),
    ("dashboard.data_map", lazy_gettext("Data map")),
    ("dashboard.figures", lazy_gettext("Figures")),
    ("dashboard.scheduler", lazy_gettext("Scheduler")),
)
"""The sections of the dashboard by endpoint; a section whose view is not registered is hidden."""

LOGOUT_ENDPOINTS = ("accounts.logout", "auth.logout")


@dataclass(frozen=True, slots=True)
class NavigationItem:
    endpoint: str
    label: str
    url: str


def navigation() -> Iterator[NavigationItem]:
    """Yield the dashboard's sections whose views exist in this application."""
    views = current_app.view_functions
    for endpoint, label in NAVIGATION:
        if endpoint in views:
            yield NavigationItem(endpoint, label, url_for(endpoint))


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


# --- the data map -------------------------------------------------------------------------------

_DATA_MAP_KEY = "dsr.dashboard.data_map"


def current_data_map() -> DataMap:
    """Return the data map at app.config["DATA_MAP"] (data_map.yaml at the project root by
    default), loaded once per application."""
    cached = current_app.extensions.get(_DATA_MAP_KEY)
    if cached is None:
        path = Path(current_app.config.get("DATA_MAP") or DEFAULT_DATA_MAP)
        cached = (path, load_data_map(path))
        current_app.extensions[_DATA_MAP_KEY] = cached
    data_map: DataMap = cached[1]
    return data_map


def data_map_path() -> Path:
    current_data_map()
    path: Path = current_app.extensions[_DATA_MAP_KEY][0]
    return path


def system_settings() -> Mapping[str, str]:
    """Return the settings a map's systems read their URLs from: the environment read by
    create_app (POINT3_PLATFORM_URL), overridden by the application's text settings
    (DSR_POINT3_PLATFORM_URL), as the `dsr` commands would see them."""
    environment: Mapping[str, str] = current_app.config.get("SYSTEM_ENVIRONMENT", {})
    settings = {key: value for key, value in current_app.config.items() if isinstance(value, str)}
    return {**environment, **settings}


def open_systems() -> Systems:
    """Return the connections to the map's systems; the caller disposes of them (`opened()`)."""
    data_map = current_data_map()
    return Systems(data_map, system_settings(), data_map_path().parent)
