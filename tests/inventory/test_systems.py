"""The connections the desk opens on an organisation's systems: on SQLite, each one enforces the
database's foreign keys, as PostgreSQL and MariaDB always do."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dsr.demo.seed import seed_platform
from inventory.loader import load_data_map
from inventory.model import DataMap
from inventory.systems import Systems
from tests.inventory.test_erasure import ROOT

SYSTEM = "learner_platform"


@pytest.fixture
def platform_url(tmp_path: Path) -> str:
    """A SQLite file with a parent row and a child row that refers to it."""
    path = tmp_path / "platform.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, "
            "parent_id INTEGER NOT NULL REFERENCES parent (id));"
            "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1);"
        )
    conn.close()
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(ROOT / "data_map.yaml")


def test_every_sqlite_connection_enforces_foreign_keys(
    point3_map: DataMap, platform_url: str
) -> None:
    with Systems(point3_map, {"POINT3_PLATFORM_URL": platform_url}).opened() as systems:
        with systems.engine(SYSTEM).connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with systems.connect(SYSTEM) as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with systems.pinned(), systems.connect(SYSTEM) as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            with pytest.raises(IntegrityError):
                conn.execute(text("DELETE FROM parent WHERE id = 1"))
            conn.rollback()
        with systems.connect(SYSTEM) as conn:
            assert conn.execute(text("SELECT count(*) FROM parent")).scalar() == 1


def test_reads_go_without_a_transaction_only_where_that_changes_nothing(
    point3_map: DataMap, engine_url: str
) -> None:
    """`Systems.connect` reads without a transaction on PostgreSQL at READ COMMITTED (no BEGIN
    and ROLLBACK round trips; every statement sees what was committed when it starts either
    way), in one on MariaDB (its snapshot, REPEATABLE READ) and SQLite; a connection the pool
    hands out next for writing is in a transaction again: a failed write leaves nothing."""
    seed_platform(engine_url, learners=10, seed=2)
    with Systems(point3_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as systems:
        with systems.connect(SYSTEM) as conn:
            count = conn.execute(text("SELECT count(*) FROM course")).scalar_one()
            level = conn.get_execution_options().get("isolation_level")
            postgresql = conn.dialect.name == "postgresql"
            if postgresql:
                from psycopg.pq import TransactionStatus

                driver: Any = conn.connection.driver_connection
                assert driver.pgconn.transaction_status == TransactionStatus.IDLE
        assert (level == "AUTOCOMMIT") == postgresql
        engine = systems.engine(SYSTEM)
        with pytest.raises(RuntimeError), engine.begin() as writing:
            assert writing.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
            writing.execute(text("DELETE FROM course_interest"))
            raise RuntimeError("the write fails after its first statement")
        with systems.connect(SYSTEM) as conn:
            assert conn.execute(text("SELECT count(*) FROM course_interest")).scalar_one() > 0
            assert conn.execute(text("SELECT count(*) FROM course")).scalar_one() == count
