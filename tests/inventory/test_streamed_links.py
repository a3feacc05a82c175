"""A person's rows found through a link are read as they come, not buffered whole by the driver:
one learner with a million tracking events must not cost the desk a million rows of memory at
once (issue 17). On the seeded demo platform with one learner given 2,500 more events (more than
one chunk of `inventory.keyed.CHUNK`), on all three engines."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.keyed import CHUNK, run_pipelined, select_where, stream_keyed
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems
from tests.databases import ENGINES, fresh_database

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"
PLATFORM = "learner_platform"
EXTRA_EVENTS = 2 * CHUNK + 500


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture(scope="module", params=ENGINES)
def systems(request: pytest.FixtureRequest, point3_map: DataMap) -> Iterator[Systems]:
    with fresh_database(request.param) as url:
        seed_platform(url, learners=20, seed=11)
        with Systems(point3_map, {"POINT3_PLATFORM_URL": url}).opened() as opened:
            with opened.engine(PLATFORM).begin() as conn:
                learner, top = conn.execute(
                    text(
                        "SELECT (SELECT id FROM learner WHERE email = :email), "
                        "(SELECT max(id) FROM tracking_event)"
                    ),
                    {"email": SAMPLE_LEARNER_EMAIL},
                ).one()
                conn.execute(
                    text(
                        "INSERT INTO tracking_event (id, learner_id, cookie_id, occurred_at, "
                        "page_url) VALUES (:id, :learner, 'c-many', '2024-01-01', '/p')"
                    ),
                    [{"id": top + i, "learner": learner} for i in range(1, EXTRA_EVENTS + 1)],
                )
            yield opened


def _learner_id(conn: Connection) -> int:
    return int(
        conn.execute(
            text("SELECT id FROM learner WHERE email = :email"), {"email": SAMPLE_LEARNER_EMAIL}
        ).scalar_one()
    )


def _still_reading(conn: Connection) -> bool:
    """Say whether the driver is still receiving the query's rows from the server."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        return False
    if conn.dialect.name == "postgresql":
        from psycopg.pq import TransactionStatus

        return bool(driver.pgconn.transaction_status == TransactionStatus.ACTIVE)  # type: ignore[union-attr]
    result = getattr(driver, "_result", None)  # PyMySQL
    return bool(result is not None and result.unbuffered_active)


def test_a_link_read_hands_its_first_rows_over_before_the_server_has_sent_them_all(
    systems: Systems,
) -> None:
    table = systems.tables(PLATFORM)["tracking_event"]
    with systems.connect(PLATFORM) as conn:
        learner = _learner_id(conn)
        build = partial(select_where, [table.c.id, table.c.learner_id])
        rows = iter(
            stream_keyed(conn, systems, ("t", "stream"), build, table.c.learner_id, [learner])
        )
        first = next(rows)
        assert first[1] == learner
        # The server has not sent all of them yet: the driver holds a chunk, not the result
        # (SQLite steps through its rows anyway).
        assert _still_reading(conn) or conn.dialect.name == "sqlite"
        rest = list(rows)
        assert not _still_reading(conn)
        assert len(rest) + 1 >= EXTRA_EVENTS
        # The connection serves the next query as usual once the rows are read.
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_every_event_of_a_learner_with_many_is_located_once(
    point3_map: DataMap, systems: Systems
) -> None:
    with systems.connect(PLATFORM) as conn:
        expected = {
            row[0]
            for row in conn.execute(
                text("SELECT id FROM tracking_event WHERE learner_id = :l"),
                {"l": _learner_id(conn)},
            )
        }
    location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    match = location.match(PLATFORM, "tracking_event")
    assert match is not None
    found = [k[0] for k in match.keys]
    assert len(found) == len(set(found)) and set(found) == expected
    assert len(expected) > EXTRA_EVENTS


def test_a_streamed_read_failing_is_a_database_error_the_locator_reports(
    systems: Systems,
) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table
    from sqlalchemy.exc import SQLAlchemyError

    missing = Table("no_such_table", MetaData(), Column("id", Integer), Column("owner", Integer))
    build = partial(select_where, [missing.c.id])
    with systems.connect(PLATFORM) as conn, pytest.raises(SQLAlchemyError):
        list(stream_keyed(conn, systems, ("t", "missing"), build, missing.c.owner, [1]))


def test_statements_sent_together_after_a_streamed_read_are_answered(point3_map: DataMap) -> None:
    """The locator and the collection send a person's small lookups in one pipeline (a
    PostgreSQL feature): right after a read in libpq's chunked mode, libpq would hand the
    pipeline's first answer in chunks, which psycopg refuses; the desk's pipeline answers."""
    with fresh_database("postgresql") as url:
        seed_platform(url, learners=10, seed=11)
        systems = Systems(point3_map, {"POINT3_PLATFORM_URL": url})
        table = systems.tables(PLATFORM)["tracking_event"]
        with systems.connect(PLATFORM) as conn:
            learner = _learner_id(conn)
            build = partial(select_where, [table.c.id])
            key = ("t", "streamed")
            streamed = list(stream_keyed(conn, systems, key, build, table.c.learner_id, [learner]))
            sql = "SELECT id FROM tracking_event WHERE learner_id = any(%(keys)s) ORDER BY id"
            together = run_pipelined(conn, [(sql, {"keys": [learner]}), (sql, {"keys": [-1]})])
        systems.dispose()
    assert streamed and sorted(row[0] for row in together[0]) == sorted(r[0] for r in streamed)
    assert together[1] == []
