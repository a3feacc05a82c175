"""Statements held back on a connection and sent together (`inventory.keyed.HeldWrites`): on
PostgreSQL in one libpq pipeline, elsewhere each at once, with the same outcome. The erasure holds
its writes there, the reads it makes of rows between them (the kept rows' dates, the values to
anonymise when the database cannot compute them), and its writes by a composite key (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    bindparam,
    delete,
    event,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from dsr.demo.seed import seed_platform
from inventory.keyed import PLANNING, HeldWrites, KeyedTable, select_where
from inventory.loader import load_data_map
from inventory.model import DataMap
from inventory.systems import Systems

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"
PLATFORM = "learner_platform"


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture
def systems(point3_map: DataMap, engine_url: str) -> Iterator[Systems]:
    seed_platform(engine_url, learners=10, seed=3)
    with Systems(point3_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as opened:
        yield opened


def _pipelined_flags(conn: Connection) -> list[tuple[str, bool]]:
    """Record each statement sent on `conn` and whether it went in a pipeline."""
    sent: list[tuple[str, bool]] = []

    def watch(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        pipelined = False
        if connection.dialect.name == "postgresql":
            from psycopg import pq

            driver: Any = connection.connection.driver_connection
            pipelined = driver.pgconn.pipeline_status != pq.PipelineStatus.OFF
        sent.append((statement.split()[0], pipelined))

    event.listen(conn, "before_cursor_execute", watch)
    return sent


def test_a_held_read_sees_the_writes_before_it_and_what_it_holds_runs_before_the_rest(
    systems: Systems,
) -> None:
    """A held read reads the rows as the writes held before it left them; the write its `take`
    holds runs before a write held after the read: everything runs in the order it was held."""
    table = systems.tables(PLATFORM)["tracking_event"]
    with systems.connect(PLATFORM) as conn, conn.begin():
        first, second = [
            (row[0],)
            for row in conn.execute(text("SELECT id FROM tracking_event ORDER BY id LIMIT 2"))
        ]
        sent = _pipelined_flags(conn)
        writes = HeldWrites(conn)
        keyed = KeyedTable(conn, systems, PLATFORM, table, ("id",), writes)
        counts: list[int] = []
        read: list[Sequence[Sequence[Any]]] = []

        def overwrite(where: Any) -> Any:
            return update(table).where(where).values(page_url=bindparam("page"))

        def append(where: Any) -> Any:
            return update(table).where(where).values(page_url=table.c.page_url + bindparam("end"))

        def take(rows: Sequence[Sequence[Any]]) -> None:
            read.append(rows)
            keyed.run_held("overwrite", overwrite, [second], {"page": "A"}, counts.append)

        keyed.run_held(
            "delete", lambda where: delete(table).where(where), [first], {}, counts.append
        )
        keyed.rows_then(
            "ids", partial(select_where, [table.c.id]), [first, second], take, holds_more=True
        )
        keyed.run_held("append", append, [second], {"end": "B"}, counts.append)
        writes.flush()
        page = conn.execute(text(f"SELECT page_url FROM tracking_event WHERE id = {second[0]}"))
        assert page.scalar_one() == "AB"
    assert [sorted(tuple(r) for r in rows) for rows in read] == [[second]]
    assert counts == [1, 1, 1]
    statements = [
        (kind, pipelined) for kind, pipelined in sent if kind in ("DELETE", "SELECT", "UPDATE")
    ]
    assert [kind for kind, _ in statements][:3] == ["DELETE", "SELECT", "UPDATE"]
    on_postgresql = conn.dialect.name == "postgresql"
    assert all(pipelined == on_postgresql for _, pipelined in statements[:4])


def test_writes_by_a_composite_key_are_held_and_change_exactly_those_rows(
    systems: Systems,
) -> None:
    """A table keyed by two columns (a person's place in a support thread) is written with the
    other held writes: on PostgreSQL its keys go as one array per column."""
    table = systems.tables(PLATFORM)["support_participant"]
    with systems.connect(PLATFORM) as conn, conn.begin():
        everyone = {
            tuple(row)
            for row in conn.execute(text("SELECT thread_id, learner_id FROM support_participant"))
        }
        gone = sorted(everyone)[:2]
        sent = _pipelined_flags(conn)
        writes = HeldWrites(conn)
        keyed = KeyedTable(conn, systems, PLATFORM, table, ("thread_id", "learner_id"), writes)
        counts: list[int] = []
        missing = (-1, -1)
        keyed.run_held(
            "delete", lambda where: delete(table).where(where), [*gone, missing], {}, counts.append
        )
        writes.flush()
        left = {
            tuple(row)
            for row in conn.execute(text("SELECT thread_id, learner_id FROM support_participant"))
        }
    assert len(everyone) > 2
    assert counts == [2]
    assert left == everyone - set(gone)
    [(kind, pipelined)] = [s for s in sent if s[0] == "DELETE"]
    assert pipelined == (conn.dialect.name == "postgresql")


@pytest.mark.databases("postgresql")
def test_a_held_read_that_fails_says_what_it_was_for(systems: Systems) -> None:
    """Only PostgreSQL holds reads (elsewhere a read runs, and fails, at once): a failed read held
    to plan says so, one held to change a table names it."""
    missing = Table("no_such_table", MetaData(), Column("id", Integer))
    build = partial(select_where, [missing.c.id])
    for during, said in ((PLANNING, PLANNING), (None, "no_such_table")):
        with systems.connect(PLATFORM) as conn, conn.begin():
            writes = HeldWrites(conn)
            keyed = KeyedTable(conn, systems, PLATFORM, missing, ("id",), writes)
            taken: list[object] = []
            keyed.rows_then("ids", build, [(1,)], taken.append, during=during)
            assert taken == []  # held, not run yet
            with pytest.raises(SQLAlchemyError):
                writes.flush()
            assert writes.failed == said
            assert taken == []
