"""/healthz: public, and 200 only when the store answers at the newest revision and every system
of the data map answers; otherwise 503 naming what is down, with no URL or error text."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import text

from dsr import db, health
from tests.conftest import MakeApp

PLATFORM_VARIABLE = "POINT3_PLATFORM_URL"


@pytest.fixture
def platform_url(tmp_path: Path) -> str:
    """An existing (empty) SQLite database for the map's one system: enough to answer SELECT 1."""
    path = tmp_path / "platform.sqlite3"
    sqlite3.connect(path).close()
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture
def health_app(make_app: MakeApp) -> Iterator[MakeApp]:
    """Make apps whose map system is at the given URL; close the checks' connections after."""
    apps: list[Flask] = []

    def make(system_url: str, **settings: Any) -> Flask:
        app = make_app(SYSTEM_ENVIRONMENT={PLATFORM_VARIABLE: system_url}, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        health.dispose_engines(app)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens on it once the probe is closed


def test_healthy_when_the_store_and_every_system_answer(
    health_app: MakeApp, platform_url: str
) -> None:
    client = health_app(platform_url).test_client()
    for _ in range(3):  # anonymous, repeated (monitors poll it), and never cached
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {
            "status": "ok",
            "checks": {"store": "ok", "map": "ok", "systems": {"learner_platform": "ok"}},
        }
        assert response.headers["Cache-Control"] == "no-store"
    assert client.head("/healthz").status_code == 200


def test_the_check_of_a_sqlite_system_enforces_its_foreign_keys(
    health_app: MakeApp, platform_url: str
) -> None:
    app = health_app(platform_url)
    assert app.test_client().get("/healthz").status_code == 200
    [engine] = app.extensions[health._ENGINES_KEY].values()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_missing_sqlite_file_is_unreachable_and_not_created(
    health_app: MakeApp, tmp_path: Path
) -> None:
    missing = tmp_path / "gone" / "platform.sqlite3"
    response = health_app(f"sqlite:///{missing.as_posix()}").test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"store": "ok", "map": "ok", "systems": {"learner_platform": "unreachable"}},
    }
    assert "gone" not in response.get_data(as_text=True)
    assert not missing.exists()


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_a_server_that_refuses_connections_is_unreachable_and_not_described(
    health_app: MakeApp, scheme: str
) -> None:
    port = _closed_port()
    url = f"{scheme}://desk_user:s3cret-pw@127.0.0.1:{port}/platform"
    response = health_app(url).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["systems"] == {"learner_platform": "unreachable"}
    body = response.get_data(as_text=True)
    for detail in ("s3cret-pw", "desk_user", str(port), "127.0.0.1", "refused"):
        assert detail not in body


def test_a_store_behind_its_migrations_is_reported(
    health_app: MakeApp, platform_url: str, store_url: str
) -> None:
    app = health_app(platform_url)
    script = ScriptDirectory.from_config(db.alembic_config())
    previous = script.get_revision(db.head_revision()).down_revision
    assert isinstance(previous, str)
    with db.get_engine(app).begin() as connection:  # as if an older version ran since
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["store"] == "not up to date"
    assert response.get_json()["checks"]["systems"] == {"learner_platform": "ok"}


def test_a_data_map_that_does_not_load_is_reported(
    health_app: MakeApp, platform_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "map.yaml"
    broken.write_text("systems: [not, a, mapping\n", encoding="utf-8")
    response = health_app(platform_url, DATA_MAP=str(broken)).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"store": "ok", "map": "invalid", "systems": {}}
