"""On PostgreSQL the locator sends a person's lookups, by their identities and through links, in
libpq pipelines (one round trip per wave of tables that do not link to one another), each capped
at `LOOKAHEAD_ROWS` rows; a lookup that reaches the cap is read again in full (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert

from dsr.demo import schema as demo_schema
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.loader import load_data_map
from inventory.locator import LOOKAHEAD_ROWS, locate_subject
from inventory.model import DataMap
from inventory.systems import Systems

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"
PLATFORM = "learner_platform"


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.mark.databases("postgresql")
def test_a_persons_lookups_go_in_pipelines(point3_map: DataMap, engine_url: str) -> None:
    from psycopg import pq

    seed_platform(engine_url, learners=12, seed=5)
    sent: list[tuple[str, bool]] = []

    def watch(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        driver: Any = conn.connection.driver_connection
        sent.append((statement, driver.pgconn.pipeline_status != pq.PipelineStatus.OFF))

    with Systems(point3_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as systems:
        systems.tables(PLATFORM)  # reflected before: its queries are not lookups
        event.listen(systems.engine(PLATFORM), "before_cursor_execute", watch)
        location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    assert location.match(PLATFORM, "learner") is not None
    lookups = [(s, pipelined) for s, pipelined in sent if "lower(" in s or "= any(" in s]
    identities = [s for s, _ in lookups if "lower(" in s]
    assert len(identities) >= 4  # learner, prospect, subscription, gift: by the address
    # Only the search for others' rows naming the person (a gift's recipient) goes alone.
    alone = [" ".join(s.split()) for s, pipelined in lookups if not pipelined]
    assert alone == [
        "SELECT course_gift.id FROM course_gift "
        "WHERE lower(course_gift.recipient_email) = %(identity)s::VARCHAR"
    ]


def test_an_identity_matching_more_rows_than_a_pipeline_holds_is_found_whole(
    point3_map: DataMap, engine_url: str
) -> None:
    seed_platform(engine_url, learners=12, seed=5)
    with Systems(point3_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as systems:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        with systems.engine(PLATFORM).begin() as conn:
            conn.execute(
                insert(demo_schema.prospect),
                [
                    {
                        "id": 100_000 + i,
                        "email": SAMPLE_LEARNER_EMAIL.upper(),
                        "source": "fair",
                        "created_at": now,
                        "last_contact_at": now,
                    }
                    for i in range(LOOKAHEAD_ROWS + 5)
                ],
            )
        location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    prospects = location.match(PLATFORM, "prospect")
    assert prospects is not None
    added = {k for k in prospects.keys if k[0] >= 100_000}
    assert len(added) == LOOKAHEAD_ROWS + 5
