"""Pooled connections are pinged before use only after sitting idle (inventory.pool): a busy
worker does not pay a round trip per checkout, and a connection the server dropped is still
replaced, at checkout when it was idle, after one failed statement when it was not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, exc, text

from dsr.db import make_engine as store_engine
from inventory.pool import ping_when_idle
from inventory.systems import make_engine as system_engine

pytestmark = pytest.mark.databases("postgresql", "mariadb")

SESSION_ID = {"postgresql": "SELECT pg_backend_pid()", "mariadb": "SELECT connection_id()"}
END_SESSION = {"postgresql": "SELECT pg_terminate_backend({id})", "mariadb": "KILL CONNECTION {id}"}


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The connections each engine's dialect pinged during the test."""
    pinged: list[Any] = []
    seen: dict[int, Any] = {}

    def counting(dialect: Any, dbapi_connection: Any) -> bool:
        pinged.append(dbapi_connection)
        return bool(seen[id(type(dialect))](dialect, dbapi_connection))

    for dialect_class in _dialect_classes():
        seen[id(dialect_class)] = dialect_class.do_ping
        monkeypatch.setattr(dialect_class, "do_ping", counting)
    return pinged


def _dialect_classes() -> Iterator[type]:
    from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    yield from (PGDialect_psycopg, MySQLDialect_pymysql)


def _session_id(engine: Engine, engine_kind: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(SESSION_ID[engine_kind])).scalar_one())


def _end_session(engine_url: str, engine_kind: str, session_id: int) -> None:
    admin = create_engine(engine_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(END_SESSION[engine_kind].format(id=session_id)))
    finally:
        admin.dispose()


@pytest.mark.parametrize(
    "make_engine",
    [
        store_engine,
        system_engine,
        lambda url: ping_when_idle(create_engine(url), idle_seconds=3600),
    ],
    ids=["store", "system", "any"],
)
def test_a_connection_given_back_a_moment_ago_is_used_without_a_ping(
    engine_url: str, engine_kind: str, pings: list[Any], make_engine: Callable[[str], Engine]
) -> None:
    engine = make_engine(engine_url)
    try:
        first = _session_id(engine, engine_kind)
        assert [_session_id(engine, engine_kind) for _ in range(5)] == [first] * 5
        assert pings == []
    finally:
        engine.dispose()


def test_a_connection_idle_long_enough_is_pinged_and_replaced_when_the_server_dropped_it(
    engine_url: str, engine_kind: str, pings: list[Any]
) -> None:
    engine = ping_when_idle(create_engine(engine_url), idle_seconds=0)  # every reuse counts as idle
    try:
        first = _session_id(engine, engine_kind)
        assert pings == []  # a new connection needs none
        assert _session_id(engine, engine_kind) == first
        assert len(pings) == 1
        _end_session(engine_url, engine_kind, first)
        second = _session_id(engine, engine_kind)  # the ping fails: a fresh connection, no error
        assert second != first
    finally:
        engine.dispose()


def test_a_dropped_connection_used_without_a_ping_fails_once_then_the_pool_connects_afresh(
    engine_url: str, engine_kind: str
) -> None:
    engine = ping_when_idle(create_engine(engine_url), idle_seconds=3600)
    try:
        first = _session_id(engine, engine_kind)
        _end_session(engine_url, engine_kind, first)
        with pytest.raises(exc.DBAPIError) as failed:
            _session_id(engine, engine_kind)
        assert failed.value.connection_invalidated
        assert _session_id(engine, engine_kind) != first
    finally:
        engine.dispose()
