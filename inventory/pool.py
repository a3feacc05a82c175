"""Pooled connections checked before use only when they sat idle long enough to have gone stale.

SQLAlchemy's `pool_pre_ping` sends a round trip to the server before every checkout: about 0.15 ms
each, and a worker's erasure checks out about ten connections, a form submission two or three. A
connection given back a moment ago is alive unless the server went away meanwhile; then its first
statement fails with a disconnect error, upon which SQLAlchemy discards every connection the pool
held at that moment, so a restart costs at most the one operation under way in each process, as
it would for an operation running when the server stopped. A connection idle for longer than
`IDLE_PING_SECONDS` is pinged as before, since a firewall or the server's idle timeout may have
closed it; a new connection needs no ping.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, event, exc

IDLE_PING_SECONDS = 10.0
_GIVEN_BACK = "dsr.checked_in_at"


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> Engine:
    """Make `engine`'s pool ping a connection at checkout when it has been idle for
    `idle_seconds` or more, and replace it when the ping fails; return `engine`."""

    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_connection: Any, record: Any) -> None:
        record.info[_GIVEN_BACK] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        given_back = record.info.get(_GIVEN_BACK)  # cleared with the connection it describes
        if given_back is None or time.monotonic() - given_back < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(str(error)) from error  # the pool connects afresh

    return engine


def for_reading(connection: Connection) -> Connection:
    """Make `connection` run without a transaction where that changes nothing of what it reads:
    on PostgreSQL at READ COMMITTED (its default), where every statement sees the rows committed
    when it starts, in a transaction or not. A read is then spared the BEGIN sent before its
    first statement and the ROLLBACK that gives the connection back, two round trips (after a
    rollback psycopg also deallocates its prepared statements: one more). Elsewhere (MariaDB
    reads a transaction's snapshot, REPEATABLE READ by default), and where the driver would
    stream a large result through a server-side cursor, which needs a transaction, it is left as
    it is. Return `connection`, for reads only."""
    dialect = connection.dialect
    if (
        dialect.name == "postgresql"
        and dialect.default_isolation_level == "READ COMMITTED"
        and streams_in_chunks()
    ):
        connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def streams_in_chunks() -> bool:
    """Say whether psycopg's libpq streams a result in chunks (17 and later), which needs no
    transaction (`inventory.keyed.stream_keyed` streams that way when it can)."""
    import psycopg  # noqa: PLC0415 (only PostgreSQL systems need it)

    return bool(psycopg.capabilities.has_stream_chunked())
