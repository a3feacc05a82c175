"""What the locator plans before it reads a row: the values each table must hand on, and the
tables (with their columns) that hold each category.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inventory.locator import _needed_columns, category_tables
from inventory.model import DataMap

MINIMAL = yaml.safe_load((Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8"))


def variant(edit: dict[str, Any]) -> DataMap:
    """Return the minimal map with top-level sections replaced (no cross-checks)."""
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    for path, value in edit.items():
        node = document
        *parents, last = path.split("/")
        for part in parents:
            node = node[part]
        node[last] = value
    return DataMap.model_validate(document)


def test_needed_columns_are_the_link_and_owner_targets_of_each_table() -> None:
    data_map = variant(
        {
            "systems/club/tables/booking_note/owner": {"column": "author", "to": "member.id"},
            "systems/club/tables/signup": {
                "primary_key": "id",
                "links": [
                    {"column": "email", "to": "member.email"},
                    {"column": "member_id", "to": "booking.member_id"},
                ],
            },
        }
    )
    assert _needed_columns(data_map, "club") == {
        "member": {"id", "email"},
        "booking": {"id", "member_id"},
    }


def test_a_table_nobody_links_to_hands_nothing_on() -> None:
    data_map = variant({})
    needed = _needed_columns(data_map, "club")
    assert needed == {"member": {"id"}, "booking": {"id"}}
    assert "booking_note" not in needed


def test_category_tables_group_the_fields_by_table_in_order() -> None:
    data_map = variant(
        {
            "categories/contact/fields": [
                {"column": "member.email", "label": "Email"},
                {"column": "booking.seat", "label": "Seat"},
                {"column": "member.full_name", "label": "Name"},
                {"column": "member.nickname", "label": "Nickname", "system": "archive"},
            ]
        }
    )
    assert category_tables(data_map, data_map.categories["contact"]) == [
        ("club", "member", ["email", "full_name"]),
        ("club", "booking", ["seat"]),
        ("archive", "member", ["nickname"]),
    ]
