"""Fixtures of the hostile-input tests: the learner's app on its own SQLite store with a real
SMTP server (tests/web), logged-in staff clients (tests/accounts), and a snapshot of the store
to prove that a refused request changed nothing."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlmodel import SQLModel

from dsr import db
from tests.accounts.helpers import staff_client
from tests.smtp_server import settle_background_work

__all__ = ["staff_client"]


def store_snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every table of the app's store, sorted: equal snapshots mean that
    nothing was added, changed or removed in between (once background deliveries settled)."""
    settle_background_work()
    with db.get_engine(app).connect() as connection:
        return {
            name: sorted((tuple(row) for row in connection.execute(table.select())), key=repr)
            for name, table in SQLModel.metadata.tables.items()
        }
