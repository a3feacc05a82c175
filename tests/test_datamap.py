"""The desk's map is parsed once per process and again only when its file changes; its systems'
URLs are resolved one way."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dsr.datamap import (
    DEFAULT_MAP_PATH,
    desk_map,
    forget_systems,
    load_map,
    map_path,
    open_systems,
    system_environment,
)
from dsr.demo.seed import seed_platform
from inventory.holds import only_categories
from inventory.loader import MapError
from inventory.systems import Systems

SYSTEM = "learner_platform"


@pytest.fixture
def map_file(tmp_path: Path) -> Path:
    path = tmp_path / "data_map.yaml"
    path.write_bytes(DEFAULT_MAP_PATH.read_bytes())
    return path


def test_the_same_map_is_returned_until_its_file_changes(map_file: Path) -> None:
    first = load_map(map_file)
    assert load_map(map_file) is first
    assert desk_map({"DATA_MAP": str(map_file)}) is first
    map_file.write_text(map_file.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    second = load_map(map_file)
    assert second is not first
    assert second == first
    assert load_map(map_file) is second


def test_a_change_within_the_same_size_and_second_is_seen(map_file: Path) -> None:
    first = load_map(map_file)
    stamp = map_file.stat()
    text = map_file.read_text(encoding="utf-8")
    map_file.write_text(text.replace("# Every", "# EVERY", 1), encoding="utf-8")
    os.utime(map_file, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1))
    assert map_file.stat().st_size == stamp.st_size
    assert load_map(map_file) is not first


def test_a_link_pointed_at_another_map_or_a_file_replaced_gives_the_new_map(
    map_file: Path, tmp_path: Path
) -> None:
    """A deployment points a link at the new release's map, or moves a new file into place
    keeping its size and time (rsync, cp -p): the map is read again all the same."""

    def twin() -> Path:  # another map of the same size and time
        other = tmp_path / "other.yaml"
        text = map_file.read_text(encoding="utf-8")
        other.write_text(text.replace("# Every", "# EVERY", 1), encoding="utf-8")
        stamp = map_file.stat()
        os.utime(other, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        assert other.stat().st_size == stamp.st_size
        return other

    link = tmp_path / "current.yaml"
    link.symlink_to(map_file)
    through_link = load_map(link)
    link.unlink()
    link.symlink_to(twin())
    assert load_map(link) is not through_link

    first = load_map(map_file)
    os.replace(twin(), map_file)
    assert load_map(map_file) is not first


def test_a_broken_map_is_not_remembered(map_file: Path) -> None:
    good = map_file.read_text(encoding="utf-8")
    map_file.write_text("systems: [", encoding="utf-8")
    with pytest.raises(MapError):
        load_map(map_file)
    map_file.write_text(good, encoding="utf-8")
    assert load_map(map_file).categories


def test_a_missing_map_names_the_path_given(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="missing.yaml:1:1: the data map file does not exist"):
        load_map(tmp_path / "missing.yaml")


def test_one_default_path_and_one_way_to_resolve_a_system(map_file: Path) -> None:
    assert map_path({}) == DEFAULT_MAP_PATH
    assert map_path({"DATA_MAP": None}) == DEFAULT_MAP_PATH
    settings = {
        "DATA_MAP": str(map_file),
        "SYSTEM_ENVIRONMENT": {"POINT3_PLATFORM_URL": "sqlite:///from-environment.sqlite3"},
        "DELIVERY_DAYS": 7,
    }
    assert system_environment(settings)["POINT3_PLATFORM_URL"].endswith("environment.sqlite3")
    settings["POINT3_PLATFORM_URL"] = "sqlite:///from-settings.sqlite3"
    assert system_environment(settings)["POINT3_PLATFORM_URL"].endswith("settings.sqlite3")
    assert "DELIVERY_DAYS" not in system_environment(settings)
    systems = open_systems(settings)
    assert systems.data_map is load_map(map_file)
    assert systems.base_dir == map_file.parent
    assert systems.url("learner_platform") == "sqlite:///from-settings.sqlite3"


# --- the systems kept for the process ---------------------------------------------------------


@pytest.fixture
def platform_settings(map_file: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Settings whose map is a copy of the default one, its platform a small seeded SQLite."""
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    seed_platform(url, learners=10, seed=1)
    yield {"DATA_MAP": str(map_file), "POINT3_PLATFORM_URL": url}
    forget_systems()


def test_the_same_systems_serve_every_use_until_the_map_changes(
    platform_settings: dict[str, Any], map_file: Path
) -> None:
    systems = open_systems(platform_settings)
    assert open_systems(dict(platform_settings)) is systems
    assert open_systems(platform_settings, desk_map(platform_settings)) is systems
    tables = systems.tables(SYSTEM)
    with systems.connect(SYSTEM):
        pass
    pool = systems.engine(SYSTEM).pool
    assert pool.checkedin() == 1  # kept for the next use

    map_file.write_text(map_file.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    again = open_systems(platform_settings)
    assert again is not systems
    assert again.data_map is desk_map(platform_settings)
    assert pool.checkedin() == 0  # the old engines were disposed of
    assert again.tables(SYSTEM) is not tables
    assert open_systems(platform_settings) is again


def test_a_narrowed_map_shares_the_engines_and_reflections_not_the_memo(
    platform_settings: dict[str, Any],
) -> None:
    systems = open_systems(platform_settings)
    narrowed = only_categories(systems.data_map, ["contact"])
    view = open_systems(platform_settings, narrowed)
    assert view.data_map is narrowed
    assert view.engine(SYSTEM) is systems.engine(SYSTEM)
    assert view.tables(SYSTEM) is systems.tables(SYSTEM)
    systems.memo("layout", lambda: "whole map")
    assert view.memo("layout", lambda: "contact only") == "contact only"
    assert systems.memo("layout", lambda: "other") == "whole map"


def test_other_urls_get_other_systems(platform_settings: dict[str, Any], tmp_path: Path) -> None:
    systems = open_systems(platform_settings)
    other = open_systems({**platform_settings, "POINT3_PLATFORM_URL": "sqlite:///other.sqlite3"})
    assert other is not systems
    assert other.url(SYSTEM) == "sqlite:///other.sqlite3"


def test_concurrent_first_uses_build_once(platform_settings: dict[str, Any]) -> None:
    forget_systems()
    start = threading.Barrier(8)
    found: list[tuple[Systems, object]] = []

    def first_use() -> None:
        start.wait()
        systems = open_systems(platform_settings)
        found.append((systems, systems.tables(SYSTEM)))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8
    assert len({id(systems) for systems, _ in found}) == 1
    assert len({id(tables) for _, tables in found}) == 1


def test_a_forked_child_builds_its_own_systems(platform_settings: dict[str, Any]) -> None:
    systems = open_systems(platform_settings)
    with systems.connect(SYSTEM) as conn:
        conn.execute(text("SELECT 1"))
    parent_pool = systems.engine(SYSTEM).pool
    assert parent_pool.checkedin() == 1
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: say what it sees, then leave without running pytest's exit
        answer = b"?"
        try:
            own = open_systems(platform_settings)
            inherited = systems.engine(SYSTEM).pool
            with own.connect(SYSTEM) as conn:
                rows = conn.execute(text("SELECT count(*) FROM learner")).scalar()
            answer = (
                b"ok" if own is not systems and inherited is not parent_pool and rows else b"no"
            )
        finally:
            os.write(writer, answer)
            os._exit(0)
    os.close(writer)
    try:
        answer = os.read(reader, 16)
    finally:
        os.close(reader)
        os.waitpid(pid, 0)
    assert answer == b"ok"
    assert systems.engine(SYSTEM).pool is parent_pool  # the parent's pool is untouched
    assert parent_pool.checkedin() == 1
    assert open_systems(platform_settings) is systems
