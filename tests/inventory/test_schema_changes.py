"""A schema that changes under the process's reflection is noticed: the next collection reads
the new column, with its new type (inventory.systems)."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.collection import Collection, collect_subject
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems, SystemUnavailable, schema_fingerprint
from tests.databases import kind_of

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"


def map_with(extra_field: str | None = None) -> DataMap:
    document: dict[str, Any] = yaml.safe_load(MAP_PATH.read_text(encoding="utf-8"))
    if extra_field is not None:
        document["categories"]["contact"]["fields"].append(
            {"column": extra_field, "label": {"fr": "Surnom", "en": "Nickname"}}
        )
    return DataMap.model_validate(document)


def collect(data_map: DataMap, systems: Systems, directory: Path) -> Collection:
    location = locate_subject(data_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    return collect_subject(data_map, systems, location, directory)


def run(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement), {"email": SAMPLE_LEARNER_EMAIL})
    finally:
        engine.dispose()


def contact(collection: Collection) -> dict[str, Any]:
    (row,) = collection.rows("contact")
    return row.values


@pytest.mark.databases("sqlite", "postgresql")
def test_a_mapped_column_added_later_is_read_by_the_next_collection(
    engine_url: str, tmp_path: Path
) -> None:
    seed_platform(engine_url, learners=10, seed=7)
    data_map = map_with("learner.nickname")
    with Systems(data_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as systems:
        with pytest.raises(SystemUnavailable, match="no column `nickname`"):
            collect(data_map, systems, tmp_path / "before")
        run(
            engine_url,
            "ALTER TABLE learner ADD COLUMN nickname VARCHAR(40)",
            "UPDATE learner SET nickname = 'Zozo' WHERE email = :email",
        )
        collection = collect(data_map, systems, tmp_path / "after")
    assert contact(collection)["nickname"] == "Zozo"


def retyped_postal_code(url: str) -> None:
    """Replace `learner.postal_code` (text) by a new integer column of the same name."""
    integer = "SIGNED" if kind_of(url) == "mariadb" else "INTEGER"
    run(
        url,
        "ALTER TABLE learner RENAME COLUMN postal_code TO old_postal_code",
        "ALTER TABLE learner ADD COLUMN postal_code INTEGER",
        f"UPDATE learner SET postal_code = CAST(old_postal_code AS {integer})",
    )


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_column_replaced_is_read_with_its_new_type(engine_url: str, tmp_path: Path) -> None:
    seed_platform(engine_url, learners=10, seed=7)
    data_map = map_with()
    environ = {"POINT3_PLATFORM_URL": engine_url}
    with Systems(data_map, environ, schema_check_seconds=0).opened() as systems:
        before = collect(data_map, systems, tmp_path / "before")
        assert before.field_types["contact"]["learner.postal_code"] == "string"
        code = contact(before)["postal_code"]
        retyped_postal_code(engine_url)
        after = collect(data_map, systems, tmp_path / "after")
    assert after.field_types["contact"]["learner.postal_code"] == "integer"
    assert contact(after)["postal_code"] == int(code)


@pytest.mark.databases("sqlite", "postgresql")
def test_a_column_gone_says_so_and_is_read_once_back(engine_url: str, tmp_path: Path) -> None:
    """No fingerprint is due (5 seconds): the read that fails on the missing column marks the
    reflection stale, the retry names the column, and once it is back it is read at once."""
    seed_platform(engine_url, learners=10, seed=7)
    data_map = map_with()
    with Systems(data_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as systems:
        before = collect(data_map, systems, tmp_path / "before")
        run(engine_url, "ALTER TABLE learner RENAME COLUMN postal_code TO old_postal_code")
        with pytest.raises(SystemUnavailable, match="no column `postal_code`"):
            collect(data_map, systems, tmp_path / "gone")
        run(
            engine_url,
            "ALTER TABLE learner ADD COLUMN postal_code INTEGER",
            "UPDATE learner SET postal_code = CAST(old_postal_code AS INTEGER)",
        )
        after = collect(data_map, systems, tmp_path / "after")
    assert after.field_types["contact"]["learner.postal_code"] == "integer"
    assert contact(after)["postal_code"] == int(contact(before)["postal_code"])


def test_the_fingerprint_changes_with_a_column_or_a_foreign_key_and_not_with_rows(
    engine_url: str,
) -> None:
    """What `Systems.recheck_schema` compares before an erasure: a column added to a mapped
    table, or a foreign key from a table the map does not know to one it does (which may block
    the erasure), changes it; rows written do not."""
    seed_platform(engine_url, learners=10, seed=7)
    tables = list(map_with().systems["learner_platform"].tables)
    engine = create_engine(engine_url)

    def fingerprint() -> Hashable:
        with engine.connect() as conn:
            return schema_fingerprint(conn, tables)

    try:
        first = fingerprint()
        run(engine_url, "UPDATE learner SET city = 'Lyon' WHERE email = :email")
        assert fingerprint() == first
        run(
            engine_url,
            "CREATE TABLE archive_copy (id INTEGER PRIMARY KEY, learner_id INTEGER "
            "REFERENCES learner (id))",
        )
        second = fingerprint()
        run(engine_url, "ALTER TABLE learner ADD COLUMN nickname VARCHAR(40)")
        third = fingerprint()
    finally:
        engine.dispose()
    assert first is not None
    assert len({first, second, third}) == 3
