"""A sweep reads a system's times in the zone the map gives for it (R48): a time stored without a
zone is a wall time of that zone, a day is a day of its calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime

from inventory.retention import as_utc
from inventory.retention_scope import stored_cutoff

NEW_YORK = ZoneInfo("America/New_York")
# 02:30 UTC on 1 March is still 21:30 on 28 February in New York.
INSTANT = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)


def test_the_cutoff_is_compared_as_the_column_stores_its_values() -> None:
    assert stored_cutoff(INSTANT, DateTime(), NEW_YORK, datetime) == datetime(2026, 2, 28, 21, 30)
    assert stored_cutoff(INSTANT, DateTime(timezone=True), NEW_YORK, datetime) == INSTANT
    assert stored_cutoff(INSTANT, Date(), NEW_YORK, date) == date(2026, 2, 28)
    assert stored_cutoff(INSTANT, DateTime(), UTC, datetime) == datetime(2026, 3, 1, 2, 30)


def test_a_stored_time_without_a_zone_is_read_in_the_systems_zone() -> None:
    assert as_utc(datetime(2026, 2, 28, 21, 30), NEW_YORK) == INSTANT
    assert as_utc(date(2026, 2, 28), NEW_YORK) == datetime(2026, 2, 28, 5, 0, tzinfo=UTC)
    assert as_utc(INSTANT.astimezone(NEW_YORK), UTC) == INSTANT  # an aware value keeps its instant
    assert as_utc(datetime(2026, 3, 1, 2, 30)) == INSTANT  # UTC when the map says nothing else
