"""Fixtures shared by the whole suite: a fresh database per test on each engine.

A test that takes `engine_url` runs once per engine (ids `sqlite`, `postgresql`, `mariadb`);
`@pytest.mark.databases("sqlite", "postgresql")` narrows it to some of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.databases import ENGINES, EngineKind, ensure_database_servers, fresh_database

# `make mutation` runs each module's tests once per mutant: fewer examples, the same ones every
# time (a mutant's verdict must not depend on luck), no example database shared between runs.
settings.register_profile(
    "mutation", max_examples=30, derandomize=True, database=None, deadline=None
)


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


@pytest.fixture
def database_engine(engine_url: str) -> Iterator[Engine]:
    """An engine on `engine_url`, disposed after the test."""
    engine = create_engine(engine_url)
    yield engine
    engine.dispose()
