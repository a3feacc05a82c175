"""Each system of a subject is located and collected in a thread of its own, with the same result,
line for line, as one system after the other; one that fails fails the collection, and the other
threads are waited for, their connections returned."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.collection import MANIFEST, Collection, CollectionMissing, collect_subject
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems, SystemUnavailable
from tests.inventory.two_systems import FIRST, MAP_PATH, SECOND, as_second, twin, two_system_map


@pytest.fixture(scope="module")
def one_system() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture(scope="module")
def two_systems() -> DataMap:
    return two_system_map()


def lines(directory: Path, category: str) -> list[str]:
    return (directory / f"{category}.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.mark.databases("sqlite", "postgresql")
def test_parallel_collection_writes_what_one_system_after_the_other_writes(
    one_system: DataMap, two_systems: DataMap, engine_url: str, tmp_path: Path
) -> None:
    seed_platform(engine_url, learners=12, seed=7)
    environ = {"POINT3_PLATFORM_URL": engine_url, "COPY_PLATFORM_URL": engine_url}
    with Systems(one_system, environ).opened() as systems:
        location = locate_subject(one_system, systems, "email", SAMPLE_LEARNER_EMAIL)
        alone = collect_subject(one_system, systems, location, tmp_path / "one")
    told: list[tuple[str, str, int | None]] = []
    lock = threading.Lock()

    def progress(system: str, state: str, rows: int | None) -> None:
        with lock:
            told.append((system, state, rows))

    with Systems(two_systems, environ).opened() as systems:
        location = locate_subject(two_systems, systems, "email", SAMPLE_LEARNER_EMAIL)
        both = collect_subject(two_systems, systems, location, tmp_path / "two", on_system=progress)

    assert alone.total_rows > 40
    expected = [c for name in alone.categories for c in (name, twin(name))] + ["both"]
    assert both.categories == expected
    for name in alone.categories:
        assert lines(both.directory, name) == lines(alone.directory, name)
        assert lines(both.directory, twin(name)) == [
            as_second(line) for line in lines(alone.directory, name)
        ]
        assert list(both.counts[name].items()) == list(alone.counts[name].items())
        assert list(both.counts[twin(name)].values()) == list(alone.counts[name].values())
        assert both.field_types[twin(name)] == alone.field_types[name]
    contact = lines(alone.directory, "contact")
    assert lines(both.directory, "both") == contact + [as_second(line) for line in contact]
    assert [r.system for r in both.rows("both")] == [FIRST] * len(contact) + [SECOND] * len(contact)
    assert both.flags == alone.flags + alone.flags
    assert not list(both.directory.glob("*.part"))

    per_system = {
        s: [(state, rows) for name, state, rows in told if name == s] for s in (FIRST, SECOND)
    }
    rows = alone.total_rows + alone.count("contact")
    assert per_system[FIRST] == [("running", None), ("done", rows)]
    assert per_system[SECOND] == [("running", None), ("done", rows)]


def test_a_failing_system_fails_the_collection_and_leaves_no_thread_or_connection(
    two_systems: DataMap, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    seed_platform(url, learners=12, seed=7)
    environ = {"POINT3_PLATFORM_URL": url, "COPY_PLATFORM_URL": url}
    with Systems(two_systems, environ).opened() as systems:
        location = locate_subject(two_systems, systems, "email", SAMPLE_LEARNER_EMAIL)
    empty = {**environ, "COPY_PLATFORM_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    told: list[tuple[str, str, int | None]] = []
    directory = tmp_path / "collection"
    with Systems(two_systems, empty).opened() as systems:
        with pytest.raises(SystemUnavailable) as raised:
            collect_subject(
                two_systems,
                systems,
                location,
                directory,
                on_system=lambda *told_now: told.append(told_now),
            )
        checked_out = {name: e.pool.checkedout() for name, e in systems.engines.items()}
    assert raised.value.system == SECOND
    assert (SECOND, "failed", None) in told
    assert told.count((SECOND, "running", None)) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("collect")]
    assert checked_out == {FIRST: 0, SECOND: 0} or checked_out == {FIRST: 0}
    assert not (directory / MANIFEST).exists()
    assert not list(directory.glob("*.part"))
    with pytest.raises(CollectionMissing):
        Collection.open(directory)


def test_every_system_is_located_as_if_one_after_the_other(
    one_system: DataMap, two_systems: DataMap, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    seed_platform(url, learners=12, seed=7)
    environ = {"POINT3_PLATFORM_URL": url, "COPY_PLATFORM_URL": url}
    with Systems(one_system, environ).opened() as systems:
        alone = locate_subject(one_system, systems, "email", SAMPLE_LEARNER_EMAIL)
    with Systems(two_systems, environ).opened() as systems:
        both = locate_subject(two_systems, systems, "email", SAMPLE_LEARNER_EMAIL)
    assert list(both.tables) == [*alone.tables, *((SECOND, t) for _, t in alone.tables)]
    for (_, table), match in alone.tables.items():
        assert both.tables[(SECOND, table)].keys == match.keys
    assert [flag.system for flag in both.flags] == [FIRST] * len(alone.flags) + [SECOND] * len(
        alone.flags
    )
