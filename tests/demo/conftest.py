"""Scratch PostgreSQL and MariaDB databases for the demo seeder's tests, dropped afterwards.

Kept local so that these tests need nothing from the suite-wide fixtures; the drop is the
suite's (tests/databases.py), which ends the connections a failed test left open.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.databases import drop_database

POSTGRESQL_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306"


def _scratch_database(server: str, admin_database: str, create: str, query: str) -> Iterator[str]:
    name = f"dsr_t_{secrets.token_hex(6)}"
    admin = create_engine(f"{server}/{admin_database}{query}", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(create.format(name=name)))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"database server unavailable: {error.orig}")
    admin.dispose()
    url = f"{server}/{name}{query}"
    try:
        yield url
    finally:
        drop_database(url)  # ending the connections still open on it, not waiting for them


@pytest.fixture
def postgresql_scratch_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database."""
    yield from _scratch_database(POSTGRESQL_SERVER, "postgres", "CREATE DATABASE {name}", "")


@pytest.fixture
def mariadb_scratch_url() -> Iterator[str]:
    """The URL of a new, empty MariaDB database in utf8mb4."""
    yield from _scratch_database(
        MARIADB_SERVER,
        "mysql",
        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "?charset=utf8mb4",
    )
