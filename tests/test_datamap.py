"""The desk's map is parsed once per process and again only when its file changes; its systems'
URLs are resolved one way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dsr.datamap import (
    DEFAULT_MAP_PATH,
    desk_map,
    load_map,
    map_path,
    open_systems,
    system_environment,
)
from inventory.loader import MapError


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
