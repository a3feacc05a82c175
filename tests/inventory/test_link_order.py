"""The order in which tables are visited: every link target before the tables linking to it.

The locator finds a table's rows from the rows already found in the tables it links to, so the
order is what makes a two-hop table (an order's items) findable at all. Maps list parent tables
first out of habit; these tests declare them in every order, in pure functions and on SQLite.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inventory.loader import parse_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems
from inventory.validation import dependencies, find_cycle, link_order
from tests.webshop.schema import (
    ALICE_EMAIL,
    ALICE_ROWS,
    BOB_EMAIL,
    BOB_ROWS,
    CAROL_EMAIL,
    CAROL_ROWS,
    seed_webshop,
)

MINIMAL = yaml.safe_load((Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8"))
WEBSHOP_TEXT = (Path(__file__).parents[1] / "webshop" / "webshop_map.yaml").read_text(
    encoding="utf-8"
)
WEBSHOP = yaml.safe_load(WEBSHOP_TEXT)


def map_with_tables(tables: dict[str, dict[str, Any]]) -> DataMap:
    """Return the minimal map with its system's tables replaced (no cross-checks: a bare graph)."""
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    document["systems"]["club"]["tables"] = tables
    return DataMap.model_validate(document)


def table(*targets: str, owner: str | None = None) -> dict[str, Any]:
    """A table whose links point at `targets` (table names), optionally owned through `owner`."""
    spec: dict[str, Any] = {
        "primary_key": "id",
        "links": [{"column": f"{t}_id", "to": f"{t}.id"} for t in targets],
    }
    if owner is not None:
        spec["owner"] = {"column": "owner_id", "to": f"{owner}.id"}
    return spec


def assert_targets_first(data_map: DataMap, order: list[str]) -> None:
    assert sorted(order) == sorted(data_map.systems["club"].tables)
    for name in order:
        for target in dependencies(data_map, "club", name):
            if target != name:
                assert order.index(target) < order.index(name), (target, name, order)


# --- dependencies -----------------------------------------------------------------------------


def test_dependencies_are_link_targets_then_the_owner_target_once_each() -> None:
    data_map = map_with_tables(
        {
            "member": table(),
            "thread": table("member"),
            "message": table("thread", "member", "thread", owner="member"),
            "reply": table(owner="member"),
        }
    )
    assert dependencies(data_map, "club", "member") == []
    assert dependencies(data_map, "club", "thread") == ["member"]
    assert dependencies(data_map, "club", "message") == ["thread", "member"]
    assert dependencies(data_map, "club", "reply") == ["member"]


def test_dependencies_leave_out_tables_the_system_does_not_declare() -> None:
    data_map = map_with_tables({"member": table(), "booking": table("ghost", "member")})
    assert dependencies(data_map, "club", "booking") == ["member"]


# --- link order -------------------------------------------------------------------------------


def test_link_order_puts_targets_first_whatever_the_declared_order() -> None:
    tables = {
        "order_item": table("orders"),
        "orders": table("customer"),
        "review": table("customer"),
        "customer": table(),
    }
    data_map = map_with_tables(tables)
    assert link_order(data_map, "club") == ["customer", "orders", "order_item", "review"]


def test_link_order_keeps_the_declared_order_of_independent_tables() -> None:
    data_map = map_with_tables({"c": table(), "a": table(), "b": table()})
    assert link_order(data_map, "club") == ["c", "a", "b"]


def test_link_order_follows_the_owner_too() -> None:
    """An owner's target is found first, so that the rows of others can be told apart."""
    data_map = map_with_tables(
        {"message": table("thread", owner="member"), "thread": table(), "member": table()}
    )
    assert link_order(data_map, "club") == ["thread", "member", "message"]


def test_link_order_visits_a_shared_target_once() -> None:
    data_map = map_with_tables(
        {"a": table("c"), "b": table("c"), "c": table(), "d": table("a", "b")}
    )
    assert link_order(data_map, "club") == ["c", "a", "b", "d"]


def test_link_order_lists_each_table_once_even_round_a_circle() -> None:
    """The erasure falls back on it when the live foreign keys go round in a circle."""
    data_map = map_with_tables({"a": table("b"), "b": table("a"), "c": table("c")})
    assert link_order(data_map, "club") == ["b", "a", "c"]


@st.composite
def acyclic_graphs(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """Tables t0..tn where each links only to lower-numbered ones, declared in any order."""
    size = draw(st.integers(min_value=1, max_value=7))
    names = [f"t{i}" for i in range(size)]
    graph = {
        name: table(
            *draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else (),
            owner=draw(st.none() | st.sampled_from(names[:i])) if i else None,
        )
        for i, name in enumerate(names)
    }
    order = draw(st.permutations(names))
    return {name: graph[name] for name in order}


@settings(max_examples=50, deadline=None)
@given(acyclic_graphs())
def test_link_order_puts_every_target_first_in_any_graph(tables: dict[str, Any]) -> None:
    data_map = map_with_tables(tables)
    assert find_cycle(data_map, "club") is None
    assert_targets_first(data_map, link_order(data_map, "club"))


# --- cycles -----------------------------------------------------------------------------------


def test_find_cycle_names_the_circle_from_its_first_table() -> None:
    data_map = map_with_tables(
        {"root": table(), "a": table("root", "b"), "b": table("c"), "c": table("a")}
    )
    assert find_cycle(data_map, "club") == ["a", "b", "c", "a"]


def test_find_cycle_starts_where_the_walk_meets_the_circle() -> None:
    """The walk enters at `entry`, which is not part of the circle."""
    data_map = map_with_tables({"entry": table("a"), "a": table("b"), "b": table("a")})
    assert find_cycle(data_map, "club") == ["a", "b", "a"]


def test_find_cycle_after_a_finished_branch() -> None:
    """`a` is finished (no circle through it) before `b`'s circle is walked."""
    data_map = map_with_tables(
        {"a": table(), "b": table("a", "c"), "c": table("d"), "d": table("c")}
    )
    assert find_cycle(data_map, "club") == ["c", "d", "c"]


def test_find_cycle_in_a_later_component() -> None:
    data_map = map_with_tables({"a": table(), "b": table("a"), "x": table("y"), "y": table("x")})
    assert find_cycle(data_map, "club") == ["x", "y", "x"]


def test_find_cycle_of_a_table_linking_to_itself() -> None:
    data_map = map_with_tables({"a": table(), "b": table("a", "b")})
    assert find_cycle(data_map, "club") == ["b", "b"]


def test_a_diamond_is_no_cycle() -> None:
    data_map = map_with_tables(
        {"d": table("b", "c"), "b": table("a"), "c": table("a"), "a": table()}
    )
    assert find_cycle(data_map, "club") is None


def test_a_long_chain_of_shared_targets_is_walked_once() -> None:
    """Each table is walked once: a walk that went back into finished tables would take 2**40
    steps on this chain of 40 diamonds (a map with many shared link targets)."""
    tables: dict[str, dict[str, Any]] = {"d0": table()}
    for i in range(1, 41):
        tables[f"l{i}"] = table(f"d{i - 1}")
        tables[f"r{i}"] = table(f"d{i - 1}")
        tables[f"d{i}"] = table(f"l{i}", f"r{i}")
    data_map = map_with_tables(dict(reversed(tables.items())))
    assert find_cycle(data_map, "club") is None
    order = link_order(data_map, "club")
    assert order[0] == "d0" and order[-1] == "d40"
    assert_targets_first(data_map, order)


@settings(max_examples=50, deadline=None)
@given(acyclic_graphs(), st.data())
def test_find_cycle_finds_an_added_back_link(tables: dict[str, Any], data: st.DataObject) -> None:
    """Adding a link from a table to one that (transitively) links to it closes a circle."""
    data_map = map_with_tables(tables)
    order = link_order(data_map, "club")
    low = data.draw(st.integers(min_value=0, max_value=len(order) - 1))
    high = data.draw(st.integers(min_value=low, max_value=len(order) - 1))
    # A path from order[high] down to order[low] exists only if there is one; add both ways.
    tables = dict(tables)
    tables[order[low]] = {**tables[order[low]]}
    tables[order[low]]["links"] = [
        *tables[order[low]]["links"],
        {"column": "back_id", "to": f"{order[high]}.id"},
    ]
    cyclic = map_with_tables(tables)
    cycle = find_cycle(cyclic, "club")
    if low == high or _reaches(cyclic, order[high], order[low]):
        assert cycle is not None
        assert cycle[0] == cycle[-1]
        for child, parent in itertools.pairwise(cycle):
            assert parent in dependencies(cyclic, "club", child)
    else:
        assert cycle is None


def _reaches(data_map: DataMap, start: str, goal: str) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(dependencies(data_map, "club", name))
    return False


# --- the same rows whatever the order (the web shop on SQLite) --------------------------------

SHOP_TABLES = list(WEBSHOP["systems"]["shop"]["tables"])


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.sqlite3'}"
    seed_webshop(url)
    return url


def shop_map_in_order(order: list[str]) -> DataMap:
    """Return the web shop's map with its tables declared in `order`, through the loader."""
    document = yaml.safe_load(WEBSHOP_TEXT)
    tables = document["systems"]["shop"]["tables"]
    document["systems"]["shop"]["tables"] = {name: tables[name] for name in order}
    return parse_data_map(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def found_rows(data_map: DataMap, url: str) -> Iterator[dict[str, list[int]]]:
    with Systems(data_map, {"SHOP_DB_URL": url}).opened() as systems:
        for email in (ALICE_EMAIL, BOB_EMAIL, CAROL_EMAIL):
            location = locate_subject(data_map, systems, "email", email)
            yield {
                name: sorted(key[0] for key in match.keys)
                for (_, name), match in location.tables.items()
                if match.keys
            }


@settings(max_examples=25, deadline=None)
@given(st.permutations(SHOP_TABLES))
@example(list(reversed(SHOP_TABLES)))
@example(["order_item", "orders", "customer", "address", "review", "newsletter_signup"])
def test_any_declared_order_finds_the_same_rows(shop_url: str, order: list[str]) -> None:
    data_map = shop_map_in_order(order)
    assert list(data_map.systems["shop"].tables) == order
    alice, bob, carol = found_rows(data_map, shop_url)
    assert alice == ALICE_ROWS
    assert bob == {name: keys for name, keys in BOB_ROWS.items() if keys}
    assert carol == CAROL_ROWS
