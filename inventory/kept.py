"""What an erasure keeps (R17): how the kept rows are taken out of everyday use, and until when.

A retained category's rows are kept until the day `inventory.periods.kept_until` computes from
each row's date, the same rule the retention sweeps apply (`kept_dates` reads those dates).

A retained category says it in `erasure.withdraw` (e.g. `invoice.restricted: true`); the map's
`restriction` change counts too where it sets columns of a retained table. A table of the
category without such a column is still withdrawn when it hangs, by a link of the map, from one
that has (invoice lines through their invoice). `withdrawal_warnings` names the retained tables
that nothing takes out of use, for `dsr map check`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import Table

from inventory.anonymisation import (
    CHANGE_TIME,
    ErasurePlanError,
    coerce,
    python_type,
    restriction_columns,
)
from inventory.keyed import PLANNING, Key, KeyedTable, chunks, select_where
from inventory.model import Category, ColumnChange, DataMap, ErasureAction
from inventory.periods import kept_until
from inventory.phrases import N_


def _changes(data_map: DataMap, category_id: str) -> list[ColumnChange]:
    category = data_map.categories[category_id]
    if category.erasure.action is not ErasureAction.RETAIN:
        return []
    return list(category.erasure.withdraw)


def withdrawal_columns(
    data_map: DataMap, system: str, name: str, table: Table, categories: Collection[str]
) -> dict[str, Any]:
    """Return the columns that take the kept rows of one table out of use (column -> value, or
    `CHANGE_TIME`): the categories' `withdraw` and the map's `restriction` on this table.

    Raise `ErasurePlanError` when a `withdraw` column is not in the live table."""
    found = restriction_columns(data_map, system, name, table)
    for category_id in categories:
        for change in _changes(data_map, category_id):
            if change.system != system or change.table != name:
                continue
            if change.name not in table.c:
                raise ErasurePlanError(
                    N_(
                        "category `%(category)s` withdraws its kept rows by setting "
                        "`%(column)s`, which system `%(system)s` does not have "
                        "(`dsr map check --live` lists such problems)"
                    ),
                    category=category_id,
                    column=change.column,
                    system=system,
                )
            col = table.c[change.name]
            found[change.name] = (
                CHANGE_TIME if change.now else coerce(change.value, python_type(col))
            )
    return found


def withdrawn_tables(data_map: DataMap, category_id: str) -> set[tuple[str, str]]:
    """Return the (system, table) of the category whose kept rows a withdrawal reaches."""
    category = data_map.categories[category_id]
    own = {((f.system or category.system), f.table) for f in category.fields}
    direct = {(c.system, c.table) for c in _changes(data_map, category_id)}
    restriction = data_map.changes.restriction
    if restriction is not None:
        direct |= {(c.system, c.table) for c in restriction.set} & own
    reached = direct & own
    grown = True
    while grown:
        grown = False
        for system, table in own - reached:
            spec = data_map.systems[system].tables.get(table)
            if spec is not None and any(
                (system, link.target_table) in reached for link in spec.links
            ):
                reached.add((system, table))
                grown = True
    return reached


def withdrawal_warnings(data_map: DataMap) -> list[str]:
    """Name each table of a retained category that no column takes out of everyday use."""
    warnings = []
    for category_id, category in data_map.categories.items():
        if category.erasure.action is not ErasureAction.RETAIN:
            continue
        reached = withdrawn_tables(data_map, category_id)
        own = dict.fromkeys(((f.system or category.system), f.table) for f in category.fields)
        for system, table in own:
            if (system, table) not in reached:
                warnings.append(
                    f"category `{category_id}` keeps the rows of `{system}.{table}` on erasure, "
                    "but nothing takes them out of everyday use: give it `erasure.withdraw` "
                    "(a column to set, such as a `restricted` flag), or link the table to one "
                    "that has it."
                )
    return warnings


def kept_dates(
    keyed: KeyedTable,
    data_map: DataMap,
    category_id: str,
    keys: Sequence[Key],
    take: Callable[[list[date | None]], None],
) -> None:
    """Give `take` the last day each kept row of the category's main table (`keyed`'s table,
    its rows picked by `keys`) is kept (None for a row without a date, or in a column that
    holds none: no end can be computed), earliest first; empty for another table.

    The date column is read by a statement built once per map and table, with `keyed`'s held
    writes when it has some (`KeyedTable.rows_then`): the erasure reads it inside its
    transaction, whose length counts against its floor, in the round trip of its first writes;
    `take` is then called once those are sent."""
    category = data_map.categories[category_id]
    table = keyed.table
    main, column = category.retention.from_.split(".", 1)
    if table.name != main or column not in table.c:
        take([])
        return
    if category.erasure.held_until is not None:  # a legal hold keeps every row until its end
        take([category.erasure.held_until] * len(keys))
        return
    batches = list(chunks(keys))
    values: list[object] = []

    def add(rows: Sequence[Sequence[object]], last: bool) -> None:
        values.extend(row[0] for row in rows)
        if last:
            take(_ends(values, category, data_map))

    read = partial(select_where, [table.c[column]])
    for index, chunk in enumerate(batches, start=1):
        keyed.rows_then(
            ("kept-dates", column),
            read,
            chunk,
            partial(add, last=index == len(batches)),
            during=PLANNING,
        )
    if not batches:
        take([])


def _ends(values: Sequence[object], category: Category, data_map: DataMap) -> list[date | None]:
    """The last day each row is kept, from its date (None without one), earliest first."""
    found: list[date] = []
    missing = 0
    for value in values:
        if not isinstance(value, date):  # no date (or not a date column): no end
            missing += 1
        else:
            found.append(kept_until(value, category.retention, data_map.organisation))
    return [*sorted(found), *([None] * missing)]
