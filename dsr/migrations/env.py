"""Alembic's environment: migrate the connection `dsr.db.run_migrations` hands over, or the URL
given to `dsr db` commands, against the metadata of every model of the tool."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from dsr.db import make_engine
from dsr.store_models import import_models

import_models()
target_metadata = SQLModel.metadata


def _run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no database to migrate: pass a connection or sqlalchemy.url")
        engine = make_engine(url)
        try:
            with engine.begin() as own_connection:
                _migrate(own_connection)
        finally:
            engine.dispose()
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported: give a database")
_run()
