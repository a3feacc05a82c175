"""Scratch PostgreSQL and MariaDB databases for the demo seeder's tests, dropped afterwards.

They come from `tests.databases.fresh_database`, so a server that is down and cannot be started
ends the run with its name, as everywhere in the suite: never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.databases import fresh_database


@pytest.fixture
def postgresql_scratch_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database."""
    with fresh_database("postgresql") as url:
        yield url


@pytest.fixture
def mariadb_scratch_url() -> Iterator[str]:
    """The URL of a new, empty MariaDB database in utf8mb4."""
    with fresh_database("mariadb") as url:
        yield url
