"""Fixtures shared by the whole suite: a fresh database per test on each engine, and the desk's
application on a store of the test's own with a real SMTP server on loopback.

A test that takes `engine_url` runs once per engine (ids `sqlite`, `postgresql`, `mariadb`);
`@pytest.mark.databases("sqlite", "postgresql")` narrows it to some of them.

`app` and `client` are the application built by `make_app` and its test client. A folder or a
module whose tests need other settings overrides the `app_config` fixture (pytest's fixture
overriding: a conftest.py or the module defines its own `app_config`, which may take the outer one
as an argument) instead of building the application another way; `make_app(**settings)` builds
more applications, or one with settings of a single test, over the same configuration.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsr import db
from dsr.logs import StderrHandler
from tests.databases import (
    ENGINES,
    EngineKind,
    MariaDBTemplate,
    copy_database,
    copy_mariadb_database,
    ensure_database_servers,
    fresh_database,
    read_mariadb_template,
)
from tests.processes import kill_leftovers
from tests.smtp_server import SmtpServer, settle_background_work, smtp_server

__all__ = ["smtp_server"]  # a fixture for the whole suite

MakeApp = Callable[..., Flask]

TEST_SETTINGS: dict[str, Any] = {
    "TESTING": True,
    # Jobs run at once in the thread that queues them, after its commit: the tests read what a
    # run or a delivery did as soon as the request returns (tests/worker starts real workers).
    "QUEUE_URL": "immediate",
    "SECRET_KEY": "a secret for the tests only",
    "MAIL_SENDER": "privacy@example.org",
}
"""What every test application is created with, under `app_config` and a test's own settings."""

# `make mutation` runs each module's tests once per mutant: fewer examples, the same ones every
# time (a mutant's verdict must not depend on luck), no example database shared between runs.
settings.register_profile(
    "mutation", max_examples=30, derandomize=True, database=None, deadline=None
)

# Hypothesis fails an example slower than 200 ms, and a test whose data comes slowly: on a loaded
# machine that is the machine, not the code. Each test's own @settings still apply over these.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """End any child process group a test left running (each worker ends its own)."""
    kill_leftovers()


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """Undo what a command or an application run in the test's process did to logging
    (`dsr.logs.configure`): its handler would otherwise write into every later test's output,
    failing whichever test of the same xdist worker reads a command's output next."""
    root, alembic = logging.getLogger(), logging.getLogger("alembic")
    levels = root.level, alembic.level
    yield
    for handler in [each for each in root.handlers if isinstance(each, StderrHandler)]:
        root.removeHandler(handler)
    root.setLevel(levels[0])
    alembic.setLevel(levels[1])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that needs a database once per engine its `databases` marker allows."""
    marker = metafunc.definition.get_closest_marker("databases")
    if "engine_kind" not in metafunc.fixturenames:
        if marker is not None:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: the `databases` marker needs the test to take "
                "`engine_url`, `database_engine` or `engine_kind`"
            )
        return
    kinds = tuple(marker.args) if marker is not None and marker.args else ENGINES
    unknown = [kind for kind in kinds if kind not in ENGINES]
    if unknown:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: unknown database engine(s) {unknown}: "
            f"choose among {', '.join(ENGINES)}"
        )
    metafunc.parametrize("engine_kind", kinds, ids=kinds, indirect=True)


@pytest.fixture
def server_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test in a process whose local time zone is not UTC (and put it back after)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def database_servers() -> None:
    """Make sure PostgreSQL and MariaDB answer, starting them once if needed, or end the run."""
    ensure_database_servers()


@pytest.fixture
def engine_kind(request: pytest.FixtureRequest) -> EngineKind:
    """The engine this run of the test is for: 'sqlite', 'postgresql' or 'mariadb'."""
    kind: EngineKind = request.param
    if kind != "sqlite":
        request.getfixturevalue("database_servers")
    return kind


@pytest.fixture
def engine_url(engine_kind: EngineKind, tmp_path: Path) -> Iterator[str]:
    """The SQLAlchemy URL of a brand new empty database, dropped after the test."""
    with fresh_database(engine_kind, tmp_path) as url:
        yield url
        settle_background_work()  # no delivery still writing to a database about to be dropped


@pytest.fixture
def database_engine(engine_url: str) -> Iterator[Engine]:
    """An engine on `engine_url`, disposed after the test."""
    engine = create_engine(engine_url)
    yield engine
    engine.dispose()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Let the desk's background deliveries of a test end before its fixtures are torn down (its
    engines disposed, its databases dropped), not during the next test."""
    settle_background_work()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store upgraded to the newest revision once per test process: each test gets a
    copy of it (the same file the migrations would write, without running them again)."""
    path = tmp_path_factory.mktemp("migrated") / "store.sqlite3"
    db.run_migrations(f"sqlite:///{path.as_posix()}")
    return path


def _migrated_sqlite(path: Path, template: Path) -> str:
    shutil.copyfile(template, path)
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture
def store_url(tmp_path: Path, migrated_sqlite_file: Path) -> str:
    """A SQLite store of this test alone, upgraded to the newest revision."""
    return _migrated_sqlite(tmp_path / "store.sqlite3", migrated_sqlite_file)


@pytest.fixture(scope="session")
def migrated_postgresql_template() -> Iterator[str]:
    """The name of a PostgreSQL database upgraded to the newest revision once per test process,
    nobody connected to it: each test's migrated PostgreSQL store is a copy of it (the same
    database the migrations would build, without running them again)."""
    with fresh_database("postgresql") as url:
        db.run_migrations(url)  # its engine disposed: the template is free to copy
        name = make_url(url).database
        assert name is not None
        yield name


@pytest.fixture(scope="session")
def migrated_mariadb_template() -> Iterator[MariaDBTemplate]:
    """A MariaDB database upgraded to the newest revision once per test process, and what it is
    made of (its tables, triggers and rows), read once: each test's migrated MariaDB store is
    replayed from it (the same database the migrations would build, without running them again)."""
    with fresh_database("mariadb") as url:
        db.run_migrations(url)
        yield read_mariadb_template(url)


@pytest.fixture
def migrated_url(
    engine_url: str, migrated_sqlite_file: Path, request: pytest.FixtureRequest
) -> str:
    """A fresh database on this run's engine, upgraded to the newest revision: a copy of one
    upgraded once per process (SQLite's file; PostgreSQL's template database; on MariaDB, which
    cannot copy a database, the template's tables, rows and triggers replayed)."""
    url = make_url(engine_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return _migrated_sqlite(Path(url.database), migrated_sqlite_file)
    if url.get_backend_name() == "postgresql":
        copy_database(url, request.getfixturevalue("migrated_postgresql_template"))
        return engine_url
    copy_mariadb_database(url, request.getfixturevalue("migrated_mariadb_template"))
    return engine_url


@pytest.fixture
def store(migrated_url: str) -> Iterator[Engine]:
    """An engine on a migrated store on this run's engine, disposed after the test."""
    engine = db.make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(store: Engine) -> Iterator[Session]:
    """A session on `store`, closed after the test."""
    with db.open_session(store) as session:
        yield session


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Settings of the applications of a folder or module over TEST_SETTINGS: override this
    fixture where tests need others (a DATABASE_URL here replaces the SQLite `store_url`)."""
    return {}


@pytest.fixture
def make_app(
    request: pytest.FixtureRequest, smtp_server: SmtpServer, app_config: dict[str, Any]
) -> Iterator[MakeApp]:
    """Return a builder of the application, with TEST_SETTINGS, mail to `smtp_server`, then
    `app_config`, then the keyword settings given to it; its engines are disposed after the test.
    Without a DATABASE_URL it runs on the test's `store_url`, made only then."""
    from dsr.app import create_app  # here: unit tests and `make mutation` never import the app

    apps: list[Flask] = []

    def make(**settings: Any) -> Flask:
        config = {
            **TEST_SETTINGS,
            "SMTP_HOST": smtp_server.host,
            "SMTP_PORT": smtp_server.port,
            **app_config,
            **settings,
        }
        if "DATABASE_URL" not in config:
            config["DATABASE_URL"] = request.getfixturevalue("store_url")
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        db.get_engine(app).dispose()


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    """The application of the test, configured by `app_config`."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()
