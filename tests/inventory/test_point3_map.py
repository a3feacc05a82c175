"""POINT3's data map against the demo platform's schema: every personal column mapped, once.

The map is hand-written; these checks catch the drift a reviewer misses: a new column nobody
claimed, a link to a column that does not exist, an anonymisation the database would refuse.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Column, Date, DateTime, Table, create_engine

from dsr.demo.schema import metadata
from inventory.live import check_live
from inventory.loader import load_data_map, parse_data_map
from inventory.model import AnonymizeStrategy, DataMap, ErasureAction
from inventory.retention import warning_email_column
from inventory.systems import Systems

MAP_PATH = Path(__file__).resolve().parents[2] / "data_map.yaml"
SYSTEM = "learner_platform"
NOT_MAPPED = {"course"}  # the catalogue holds no personal data
SCHEMA: dict[str, Table] = {
    name: table for name, table in metadata.tables.items() if name not in NOT_MAPPED
}


@pytest.fixture(scope="module")
def data_map() -> DataMap:
    return DataMap.model_validate(yaml.safe_load(MAP_PATH.read_text(encoding="utf-8")))


def _column(ref: str) -> Column[object]:
    """Return the schema column named `table.column`, failing the test if there is none."""
    table, name = ref.split(".", 1)
    assert table in SCHEMA, f"`{ref}`: no table `{table}` in the demo schema"
    assert name in SCHEMA[table].c, f"`{ref}`: no column `{name}` in table `{table}`"
    return SCHEMA[table].c[name]


def _is_key(column: Column[object]) -> bool:
    return column.primary_key or bool(column.foreign_keys)


def test_map_loads_with_cross_reference_checks() -> None:
    assert load_data_map(MAP_PATH).version == 1


def test_map_declares_every_table_but_the_catalogue_with_its_primary_key(
    data_map: DataMap,
) -> None:
    tables = data_map.systems[SYSTEM].tables
    assert set(tables) == set(SCHEMA)
    for name, spec in tables.items():
        assert spec.primary_key == [c.name for c in SCHEMA[name].primary_key], name


def test_every_personal_column_is_claimed_by_exactly_one_category(data_map: DataMap) -> None:
    claims = Counter(
        field.column for category in data_map.categories.values() for field in category.fields
    )
    for ref in claims:
        _column(ref)
    for name, table in SCHEMA.items():
        for column in table.columns:
            ref = f"{name}.{column.name}"
            if _is_key(column):
                assert claims[ref] <= 1, f"key column `{ref}` claimed {claims[ref]} times"
            else:
                assert claims[ref] == 1, f"`{ref}` claimed {claims[ref]} times, expected 1"


def test_links_owners_and_identities_name_real_columns(data_map: DataMap) -> None:
    for name, spec in data_map.systems[SYSTEM].tables.items():
        for link in [*spec.links, *([spec.owner] if spec.owner else [])]:
            _column(f"{name}.{link.column}")
            _column(link.to)
    for identity in data_map.identities.values():
        for location in identity.locations[SYSTEM]:
            _column(location.column)


def test_retention_runs_from_a_date_column(data_map: DataMap) -> None:
    for category_id, category in data_map.categories.items():
        column = _column(category.retention.from_)
        assert isinstance(column.type, Date | DateTime), category_id


def test_every_period_ends_and_every_row_has_a_start(data_map: DataMap) -> None:
    """Invoices are deleted at the end of their 10 years; accounts never logged in and open
    support threads run from a column the schema always sets."""
    assert data_map.categories["invoices"].end_action is ErasureAction.DELETE
    assert all(c.end_action is not ErasureAction.RETAIN for c in data_map.categories.values())
    for category_id in ("contact", "account", "support"):
        retention = data_map.categories[category_id].retention
        assert any(not _column(f).nullable for f in retention.fallback), category_id


def test_an_account_kept_on_erasure_is_still_warned_before_its_period_ends() -> None:
    """The warning follows what the period's end does, not the erasure's action."""
    spec = yaml.safe_load(MAP_PATH.read_text(encoding="utf-8"))
    spec["categories"]["contact"]["erasure"] = {
        "action": "retain",
        "legal_reason": "A legal obligation to keep it",
        "until": "Two years",
    }
    spec["categories"]["contact"]["retention"]["at_end"] = "anonymize"
    data_map = parse_data_map(yaml.safe_dump(spec, allow_unicode=True))
    assert data_map.categories["contact"].end_action is ErasureAction.ANONYMIZE
    assert warning_email_column(data_map, "contact") == "email"
    assert warning_email_column(data_map, "invoices") is None  # not an account table


def test_anonymisation_fits_the_column_constraints(data_map: DataMap) -> None:
    """A NOT NULL column cannot be nulled; a UNIQUE one needs a unique placeholder."""
    for category_id, category in data_map.categories.items():
        if category.erasure.action is not ErasureAction.ANONYMIZE:
            continue
        for field in category.fields:
            assert field.anonymize is not None
            column = _column(field.column)
            strategy = field.anonymize.strategy
            where = f"{category_id}: {field.column}"
            if strategy is AnonymizeStrategy.NULL:
                assert column.nullable, f"{where} is NOT NULL and cannot be anonymised to null"
            if column.unique:
                assert strategy is AnonymizeStrategy.UNIQUE_PLACEHOLDER, f"{where} is UNIQUE"
            if strategy is AnonymizeStrategy.YEAR_ONLY:
                assert isinstance(column.type, Date | DateTime), f"{where} is not a date"


def test_map_matches_a_live_database_of_the_demo_schema(data_map: DataMap, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    with Systems(data_map, {"POINT3_PLATFORM_URL": url}).opened() as systems:
        assert [str(finding) for finding in check_live(data_map, systems)] == []
