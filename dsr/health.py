"""`GET /healthz`: whether the desk can work: its store answers and is migrated, and each system
of the data map answers. For load balancers and monitoring: public, cheap, and telling nothing
but names and states (no URL, no error text, which could name hosts or users).

200 `{"status": "ok", "checks": {"store": "ok", "map": "ok", "systems": {"platform": "ok"}}}`;
503 with `"status": "unavailable"` and the failing checks set to `unreachable`, `not up to date`
(the store needs `dsr db upgrade`) or `invalid` (the data map does not load).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from dsr import db
from dsr.accounts.access import public_blueprint
from dsr.datamap import desk_map, map_path, system_environment
from dsr.extensions import limiter
from inventory.loader import MapError
from inventory.systems import enforce_foreign_keys, system_url

log = logging.getLogger(__name__)

blueprint = public_blueprint(Blueprint("health", __name__))

OK = "ok"
UNREACHABLE = "unreachable"
NOT_UP_TO_DATE = "not up to date"
INVALID = "invalid"

CONNECT_TIMEOUT_SECONDS = 3
"""How long a check waits for a system to accept a connection before calling it unreachable."""

_ENGINES_KEY = "dsr.health.engines"
_HEAD_KEY = "dsr.health.head"


def _connect_args(url: str) -> dict[str, Any]:
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "read_timeout": 5}
    return {}


def _system_engine(name: str, url: str) -> Engine:
    """Return the check's engine for a system (kept per application: a check reuses a pooled
    connection instead of opening one each time)."""
    engines: dict[tuple[str, str], Engine] = current_app.extensions.setdefault(_ENGINES_KEY, {})
    key = (name, url)
    if key not in engines:
        engines[key] = enforce_foreign_keys(
            create_engine(
                url,
                pool_size=1,
                max_overflow=1,
                pool_timeout=CONNECT_TIMEOUT_SECONDS,
                pool_pre_ping=True,
                connect_args=_connect_args(url),
            )
        )
    return engines[key]


def _is_missing_file(url: str) -> bool:
    """Tell whether `url` is a SQLite file that does not exist (connecting would create it)."""
    parsed = make_url(url)
    database = parsed.database
    return (
        parsed.get_backend_name() == "sqlite"
        and database not in (None, "", ":memory:")
        and not Path(str(database)).exists()
    )


def check_store() -> str:
    engine = db.get_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = db.current_revision(engine)
    except SQLAlchemyError as error:
        log.warning("health: the store is unreachable (%s)", type(error).__name__)
        return UNREACHABLE
    if current != current_app.extensions[_HEAD_KEY]:
        log.warning("health: the store is not up to date: run `dsr db upgrade`")
        return NOT_UP_TO_DATE
    return OK


def check_system(name: str, url: str) -> str:
    if _is_missing_file(url):
        log.warning("health: system %s is unreachable (its SQLite file is missing)", name)
        return UNREACHABLE
    try:
        with _system_engine(name, url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        log.warning("health: system %s is unreachable (%s)", name, type(error).__name__)
        return UNREACHABLE
    return OK


def check_systems() -> tuple[str, dict[str, str]]:
    """Check each system of the data map; say whether the map itself loads."""
    try:
        data_map = desk_map(current_app.config)
        base_dir = map_path(current_app.config).resolve().parent
    except (MapError, OSError) as error:
        log.warning("health: the data map does not load (%s)", type(error).__name__)
        return INVALID, {}
    settings: Mapping[str, str] = system_environment(current_app.config)
    return OK, {
        name: check_system(name, system_url(data_map, name, settings, base_dir))
        for name in data_map.systems
    }


@blueprint.get("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    """Answer 200 when the store and every system answer, else 503 naming what is down."""
    store = check_store()
    map_state, systems = check_systems()
    healthy = store == OK and map_state == OK and all(state == OK for state in systems.values())
    body = {
        "status": OK if healthy else "unavailable",
        "checks": {"store": store, "map": map_state, "systems": systems},
    }
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def dispose_engines(app: Flask) -> None:
    """Close the checks' connections to the systems (when an application is done with)."""
    for engine in app.extensions.pop(_ENGINES_KEY, {}).values():
        engine.dispose()


def init_app(app: Flask) -> None:
    """Register /healthz; the store's expected revision is read once, here."""
    app.extensions[_HEAD_KEY] = db.head_revision()
    app.register_blueprint(blueprint)
