"""Collecting a subject's rows to disk and reading them back (inventory.collection)."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.collection import (
    Collection,
    CollectionMissing,
    _indented,
    collect_subject,
    decode_value,
    encode_value,
)
from inventory.loader import load_data_map
from inventory.locator import category_counts, iter_category_rows, locate_subject
from inventory.model import DataMap
from inventory.systems import Systems, SystemUnavailable

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture(scope="module")
def platform_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'platform.sqlite3'}"
    seed_platform(url, learners=20, seed=7)
    return url


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        42,
        1.5,
        "Zoé <b>&</b>",
        datetime(2026, 11, 25, 13, 5, 7, 123, tzinfo=UTC),
        datetime(2026, 11, 25, 13, 5),
        date(1994, 5, 17),
        time(14, 5),
        Decimal("1234.50"),
        b"\x00\xffbinary",
        timedelta(seconds=90),
        uuid.UUID("0b7e2c1a-5d43-4f6e-9a21-3c8d7e5f1b20"),
        {"$datetime": "not a tag"},
        [1, "two"],
        float("nan"),
    ],
)
def test_values_come_back_with_their_type(value: object) -> None:
    restored = decode_value(encode_value(value))
    if isinstance(value, float) and value != value:
        assert isinstance(restored, float) and restored != restored
        return
    assert restored == value
    assert type(restored) is type(value)


def collect(point3_map: DataMap, url: str, email: str, directory: Path) -> Collection:
    with Systems(point3_map, {"POINT3_PLATFORM_URL": url}).opened() as systems:
        location = locate_subject(point3_map, systems, "email", email)
        return collect_subject(point3_map, systems, location, directory)


def test_collection_keeps_every_row_of_the_subject_typed(
    point3_map: DataMap, platform_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "collection"
    collected = collect(point3_map, platform_url, SAMPLE_LEARNER_EMAIL, directory)
    with Systems(point3_map, {"POINT3_PLATFORM_URL": platform_url}).opened() as systems:
        location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
        expected_counts = category_counts(point3_map, location)
        direct = list(iter_category_rows(point3_map, systems, location, "exam_registration"))

    reopened = Collection.open(directory)
    assert reopened.counts == collected.counts == expected_counts
    assert reopened.categories == list(expected_counts)
    assert reopened.total_rows == sum(sum(c.values()) for c in expected_counts.values())
    assert reopened.flags == []
    assert reopened.collected_at.tzinfo is not None

    (registration,) = reopened.rows("exam_registration")
    assert registration.values == direct[0].values
    assert registration.primary_key == {"id": 1}
    assert isinstance(registration.values["birth_date"], date)
    assert isinstance(registration.values["registered_at"], datetime)
    assert reopened.field_types["exam_registration"]["exam_registration.birth_date"] == "date"
    assert list(reopened.rows("prospects")) == []


def test_secrets_and_other_peoples_data_never_reach_the_disk(
    point3_map: DataMap, platform_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "collection"
    collection = collect(point3_map, platform_url, SAMPLE_LEARNER_EMAIL, directory)
    on_disk = "".join(path.read_text(encoding="utf-8") for path in directory.iterdir())
    assert "password_hash" not in on_disk
    assert "psp_token" not in on_disk and "pm_1Zoe4fKx9QvR2LmT7sYw3NbH" not in on_disk
    assert "Je confirme, je suis le collègue" not in on_disk
    messages = [r for r in collection.rows("support") if r.table == "support_message"]
    others = [r for r in messages if not r.owned]
    assert len(others) == 1 and others[0].values["body"] is None
    assert all(r.values["body"] for r in messages if r.owned)


def test_files_are_private(point3_map: DataMap, platform_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "collection"
    collect(point3_map, platform_url, SAMPLE_LEARNER_EMAIL, directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in directory.iterdir()} == {0o600}


def test_a_second_collection_starts_clean(
    point3_map: DataMap, platform_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "collection"
    collect(point3_map, platform_url, SAMPLE_LEARNER_EMAIL, directory)
    collection = collect(point3_map, platform_url, "nobody@example.org", directory)
    assert collection.categories == [] and collection.total_rows == 0
    assert [path.name for path in directory.iterdir()] == ["manifest.json"]


def test_a_collection_of_another_format_is_not_read_as_this_one(
    point3_map: DataMap, platform_url: str, tmp_path: Path
) -> None:
    """A collection left by an earlier version (another line layout) must be collected again,
    not misread."""
    directory = tmp_path / "collection"
    collect(point3_map, platform_url, SAMPLE_LEARNER_EMAIL, directory)
    manifest = directory / "manifest.json"
    written = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**written, "format": 1}), encoding="utf-8")
    with pytest.raises(CollectionMissing):
        Collection.open(directory)


def test_a_flag_is_kept_for_staff(point3_map: DataMap, platform_url: str, tmp_path: Path) -> None:
    collection = collect(point3_map, platform_url, "jean.martin@example.com", tmp_path / "c")
    assert len(collection.flags) == 1 and "several accounts" in collection.flags[0]
    assert "jean" not in collection.flags[0].lower()


def test_an_unreadable_system_raises_and_leaves_no_collection(
    point3_map: DataMap, platform_url: str, tmp_path: Path
) -> None:
    with Systems(point3_map, {"POINT3_PLATFORM_URL": platform_url}).opened() as systems:
        location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    directory = tmp_path / "collection"
    with (
        Systems(point3_map, {"POINT3_PLATFORM_URL": empty}).opened() as systems,
        pytest.raises(SystemUnavailable) as raised,
    ):
        collect_subject(point3_map, systems, location, directory)
    assert raised.value.system == "learner_platform"
    with pytest.raises(CollectionMissing):
        Collection.open(directory)


def test_collection_reads_the_same_on_every_engine(
    point3_map: DataMap, engine_url: str, tmp_path: Path
) -> None:
    seed_platform(engine_url, learners=12, seed=7)
    collection = collect(point3_map, engine_url, SAMPLE_LEARNER_EMAIL, tmp_path / "c")
    (card, _) = [r for r in collection.rows("billing_cards")]
    assert card.values["last4"] == "4242"
    (registration,) = collection.rows("exam_registration")
    assert registration.values["birth_date"] == date(1994, 5, 17)
    opened = [r.values["opened_at"] for r in collection.rows("email_engagement")]
    assert all(isinstance(moment, datetime) for moment in opened)


_MANIFEST_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(),  # any text: quotes, control characters, non-ASCII, lone surrogates
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_MANIFEST_VALUES)
def test_the_manifest_is_written_as_json_writes_it(value: object) -> None:
    """The manifest's own encoder writes, byte for byte, what `json.dumps(..., indent=1)` wrote
    before it (and what readers of the collection folder parse)."""
    assert _indented(value) == json.dumps(value, ensure_ascii=False, indent=1)
