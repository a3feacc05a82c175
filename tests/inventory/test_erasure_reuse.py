"""Erasures that reuse one `Systems` (its statements, layouts and reflection built by the first),
as a worker does for every request of its process: each erases its own person's rows only, and a
request's legal hold is honoured even though the layout was first worked out without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.erasure import execute_erasure
from inventory.holds import HeldCategory, with_holds
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap, LocalText
from inventory.systems import Systems
from tests.inventory.test_erasure import NOW, ROOT, SECRET, SYSTEM, Snapshot, snapshot

pytestmark = pytest.mark.databases("sqlite", "postgresql")


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(ROOT / "data_map.yaml")


@pytest.fixture
def platform_url(engine_url: str) -> str:
    seed_platform(engine_url, learners=30)
    return engine_url


@pytest.fixture
def systems(point3_map: DataMap, platform_url: str) -> Iterator[Systems]:
    with Systems(point3_map, {"POINT3_PLATFORM_URL": platform_url}).opened() as opened:
        yield opened


def email_of(before: Snapshot, learner_id: int) -> str:
    return str(next(row for key, row in before["learner"].items() if key == (learner_id,))[1])


def keys_of(
    data_map: DataMap, systems: Systems, value: str, identity: str = "email"
) -> dict[str, set[tuple[Any, ...]]]:
    location = locate_subject(data_map, systems, identity, value)
    return {
        table: set(match.keys) - match.not_owned
        for (system, table), match in location.tables.items()
        if system == SYSTEM and match.keys
    }


def changed_rows(before: Snapshot, after: Snapshot) -> dict[str, set[tuple[Any, ...]]]:
    """Return, per table, the keys of the rows removed or changed."""
    changed: dict[str, set[tuple[Any, ...]]] = {}
    for table, rows in before.items():
        later = after[table]
        keys = {key for key, row in rows.items() if later.get(key) != row}
        assert not later.keys() - rows.keys(), f"rows added to {table}"
        if keys:
            changed[table] = keys
    return changed


def test_a_second_erasure_with_the_same_systems_changes_only_its_persons_rows(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    [first] = execute_erasure(point3_map, systems, location, secret_key=SECRET, now=NOW)
    assert first.status == "done", first.error
    before = snapshot(platform_url)
    for learner_id in (5, 9):
        email = email_of(before, learner_id)
        theirs = keys_of(point3_map, systems, email)
        assert (learner_id,) in theirs["learner"] and len(theirs) > 2
        location = locate_subject(point3_map, systems, "email", email)
        [outcome] = execute_erasure(point3_map, systems, location, secret_key=SECRET, now=NOW)
        assert outcome.status == "done", outcome.error
        assert outcome.rows_deleted > 0
        after = snapshot(platform_url)
        changed = changed_rows(before, after)
        assert changed, "nothing erased"
        for table, keys in changed.items():
            assert keys <= theirs.get(table, set()), (table, keys - theirs.get(table, set()))
        assert keys_of(point3_map, systems, email) == {}
        before = after


def test_a_hold_is_kept_by_systems_that_first_erased_without_one(
    point3_map: DataMap, systems: Systems, platform_url: str
) -> None:
    location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    [first] = execute_erasure(point3_map, systems, location, secret_key=SECRET, now=NOW)
    assert first.status == "done", first.error
    before = snapshot(platform_url)
    email = email_of(before, 5)
    tracked = keys_of(point3_map, systems, email)["tracking_event"]
    assert tracked
    reason = LocalText(fr="Litige en cours", en="A dispute under way")
    held = with_holds(
        point3_map, {"tracking": HeldCategory(reason, reason, date(NOW.year + 1, 1, 31))}
    )
    location = locate_subject(held, systems, "email", email)
    [outcome] = execute_erasure(held, systems, location, secret_key=SECRET, now=NOW)
    assert outcome.status == "done", outcome.error
    after = snapshot(platform_url)
    assert tracked <= set(after["tracking_event"]), "held tracking events were deleted"
    assert changed_rows(before, after).get("tracking_event", set()) == set()
    # The same systems, without the hold again, delete them (her address is anonymised by now).
    by_id = keys_of(point3_map, systems, "5", "learner_id")["tracking_event"]
    assert by_id and by_id <= tracked
    location = locate_subject(point3_map, systems, "learner_id", "5")
    [again] = execute_erasure(point3_map, systems, location, secret_key=SECRET, now=NOW)
    assert again.status == "done", again.error
    assert not by_id & set(snapshot(platform_url)["tracking_event"])
