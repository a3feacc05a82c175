"""The locator on a second, different map (a web shop): no code knows the shop.

Runs on SQLite, PostgreSQL and MariaDB, each test with its own database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event, text

from dsr.cli import main
from inventory.loader import load_data_map
from inventory.locator import category_counts, iter_category_rows, locate_subject
from inventory.model import DataMap
from inventory.systems import Systems, SystemUnavailable
from tests.webshop.schema import (
    ALICE_EMAIL,
    ALICE_EMAIL_VARIANTS,
    ALICE_ROWS,
    BOB_EMAIL,
    BOB_ROWS,
    CAROL_EMAIL,
    CAROL_ROWS,
    seed_webshop,
)

MAP_PATH = Path(__file__).parents[1] / "webshop" / "webshop_map.yaml"


@pytest.fixture(scope="module")
def shop_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture
def shop_url(engine_url: str) -> str:
    seed_webshop(engine_url)
    return engine_url


@pytest.fixture
def systems(shop_map: DataMap, shop_url: str) -> Iterator[Systems]:
    with Systems(shop_map, {"SHOP_DB_URL": shop_url}).opened() as opened:
        yield opened


def keys_by_table(shop_map: DataMap, systems: Systems, email: str) -> dict[str, list[int]]:
    location = locate_subject(shop_map, systems, "email", email)
    return {
        table: sorted(k[0] for k in match.keys)
        for (_, table), match in location.tables.items()
        if match.keys
    }


def test_finds_exactly_the_subjects_rows_through_two_hops(
    shop_map: DataMap, systems: Systems
) -> None:
    assert keys_by_table(shop_map, systems, ALICE_EMAIL) == ALICE_ROWS
    assert keys_by_table(shop_map, systems, BOB_EMAIL) == {k: v for k, v in BOB_ROWS.items() if v}
    assert keys_by_table(shop_map, systems, CAROL_EMAIL) == CAROL_ROWS


@pytest.mark.parametrize("variant", ALICE_EMAIL_VARIANTS)
def test_case_and_spaces_do_not_matter(shop_map: DataMap, systems: Systems, variant: str) -> None:
    assert keys_by_table(shop_map, systems, variant) == ALICE_ROWS


def test_unknown_person_finds_nothing(shop_map: DataMap, systems: Systems) -> None:
    location = locate_subject(shop_map, systems, "email", "nobody@shop.example")
    assert not location.found
    assert category_counts(shop_map, location) == {}
    assert location.flags == []


def test_queries_are_set_based_not_per_row(shop_map: DataMap, systems: Systems) -> None:
    statements: list[str] = []
    engine = systems.engine("shop")
    systems.tables("shop")  # reflection is not part of the locating

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        locate_subject(shop_map, systems, "email", ALICE_EMAIL)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    tables = shop_map.systems["shop"].tables.values()
    identity_columns = sum(len(v) for v in shop_map.identities["email"].locations.values())
    # One query per identity column and one per link: Alice's 2 orders and 3 items do not add any.
    assert len(statements) == identity_columns + sum(len(t.links) for t in tables)


def test_category_rows_carry_system_table_key_and_only_their_columns(
    shop_map: DataMap, systems: Systems
) -> None:
    location = locate_subject(shop_map, systems, "email", ALICE_EMAIL)
    counts = category_counts(shop_map, location)
    assert sum(sum(per.values()) for per in counts.values()) >= sum(map(len, ALICE_ROWS.values()))
    for cat_id, category in shop_map.categories.items():
        columns = {f.name for f in category.fields}
        for row in iter_category_rows(shop_map, systems, location, cat_id):
            assert row.system == "shop"
            assert set(row.values) <= columns
            assert row.primary_key["id"] in ALICE_ROWS[row.table]


def test_unreachable_system_is_reported_by_name(shop_map: DataMap, tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'no-such-dir' / 'x' / 'shop.db'}"
    with (
        Systems(
            shop_map, {"SHOP_DB_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"}
        ).opened() as systems,
        pytest.raises(SystemUnavailable, match="system `shop` could not be read"),
    ):
        locate_subject(shop_map, systems, "email", ALICE_EMAIL)
    assert missing  # an absent SQLite file is created empty, so a closed port is the real case


def run_cli(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["--map", str(MAP_PATH), *args], env={"SHOP_DB_URL": url}, catch_exceptions=False
    )
    return result.exit_code, result.output


def test_cli_subject_find_prints_rows_and_json(shop_url: str) -> None:
    code, output = run_cli(shop_url, "subject", "find", " ALICE@shop.example ")
    assert code == 0
    assert "shop.order_item: 3 row(s)" in output
    assert "Joyeux anniversaire Bob" not in output or "shop.order_item" in output
    assert "Alice" in output

    code, output = run_cli(shop_url, "subject", "find", "--json", ALICE_EMAIL)
    assert code == 0
    document = json.loads(output)
    found = {
        (row["table"], row["primary_key"]["id"])
        for rows in document["categories"].values()
        for row in rows
    }
    assert found == {(table, key) for table, keys in ALICE_ROWS.items() for key in keys}

    code, output = run_cli(shop_url, "subject", "find", "nobody@shop.example")
    assert code == 0
    assert "No data found for this email in any system of the map." in output


def test_cli_exit_codes(shop_url: str) -> None:
    assert run_cli(shop_url, "map", "check")[0] == 0
    code, output = run_cli(shop_url, "map", "check", "--live")
    assert code == 0, output
    assert output.strip().endswith("valid and matches the live databases.")
    code, output = run_cli(shop_url, "subject", "find", "--identity", "passport", "x")
    assert code == 2 and "declares no identity `passport`" in output
    code, output = run_cli("postgresql+psycopg://nobody@127.0.0.1:1/x", "subject", "find", "a@b.c")
    assert code == 1 and "system `shop` could not be read" in output


def test_live_check_reports_missing_and_unmapped_columns(shop_url: str) -> None:
    with (
        Systems(load_data_map(MAP_PATH), {"SHOP_DB_URL": shop_url}).opened() as systems,
        systems.engine("shop").begin() as conn,
    ):
        conn.execute(text("ALTER TABLE customer ADD COLUMN mobile_phone VARCHAR(30)"))
        conn.execute(text("CREATE TABLE loyalty (id INTEGER PRIMARY KEY, birth_date DATE)"))
        conn.execute(text("ALTER TABLE review DROP COLUMN posted_at"))
    code, output = run_cli(shop_url, "map", "check", "--live")
    assert code == 1
    assert "column `review.posted_at` is in the map but not in the database." in output
    assert "column `customer.mobile_phone` looks like personal data" in output
    assert "column `loyalty.birth_date` (a table the map does not list) looks like" in output
    assert "product.name" not in output  # reviewed in the map under `not_personal`
