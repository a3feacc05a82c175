"""The located keys kept compactly (`inventory.locator.Keys`) read exactly as a list of tuples,
and the locator's collector still takes each row once. Pure: no database."""

from __future__ import annotations

from inventory.keyed import chunks
from inventory.locator import Keys, TableMatch, _RowCollector


def test_integer_keys_read_as_one_value_tuples() -> None:
    keys = Keys([(3,), (1,), (2,)])
    assert len(keys) == 3 and keys
    assert list(keys) == [(3,), (1,), (2,)]
    assert keys[0] == (3,) and keys[-1] == (2,)
    assert keys[1:] == [(1,), (2,)]
    assert (1,) in keys and (4,) not in keys and 1 not in keys
    as_list = [(3,), (1,), (2,)]
    assert keys == as_list and as_list == keys
    assert keys == Keys([(3,), (1,), (2,)]) and keys != Keys([(1,), (2,), (3,)])
    assert not Keys()


def test_keys_in_chunks_as_the_statements_take_them() -> None:
    keys = Keys((i,) for i in range(2500))
    batches = list(chunks(keys))
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert [k for b in batches for k in b] == [(i,) for i in range(2500)]


def test_other_keys_turn_the_storage_into_tuples_in_the_same_order() -> None:
    keys = Keys([(1,), (2,)])
    keys.append(("a",))
    keys.append((2**63,))  # too big for the array
    keys.append((True,))  # a boolean is not an id
    assert list(keys) == [(1,), (2,), ("a",), (2**63,), (True,)]
    assert keys[2] == ("a",) and keys[:2] == [(1,), (2,)] and ("a",) in keys
    composite = Keys([(1, "x"), (1, "y")])
    assert composite == [(1, "x"), (1, "y")] and (1, "y") in composite


def test_a_table_match_stores_a_list_of_keys_compactly() -> None:
    match = TableMatch("shop", "orders", ("id",), [(5,), (6,)])
    assert isinstance(match.keys, Keys) and match.keys == [(5,), (6,)] and match.count == 2


def test_the_collector_takes_a_row_found_by_two_queries_once() -> None:
    keys = Keys()
    match = TableMatch("shop", "orders", ("id",), keys, carried={"customer": set()})
    collector = _RowCollector(match, keys, "customer", {10})
    columns = ["id", "customer"]
    assert collector.take([(1, 10), (2, 11)], columns) == 2
    assert collector.take([(2, 11), (3, 10)], columns) == 2  # another query: row 2 again
    assert collector.take([(3, 10), (4, None)], columns) == 2  # another chunk: row 3 again
    assert match.keys == [(1,), (2,), (3,), (4,)]
    assert match.not_owned == {(2,)}
    assert match.carried == {"customer": {10, 11}}
