"""How the rows of one system refer to each other, and in which order they can be changed.

A `Reference` says that rows of a child table hold values of a parent table's columns: a link or
an owner of the map, or a foreign key of the database (every one counts, named or not: SQLite's
have no name). `system_references` gives both, `execution_order` the mapped tables children
before parents, and `referring_rows` / `referred_by_unknown_table` the rows that refer to given
rows. The foreign keys are reflected once per engine; `forget_schema` reflects them again.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from graphlib import CycleError, TopologicalSorter

from sqlalchemy import Connection, Engine, column, exists, inspect, select, table

from inventory.keyed import Key, KeyedTable, chunks, key_in, select_where
from inventory.model import DataMap
from inventory.phrases import N_, Phrase
from inventory.validation import link_order


@dataclass(frozen=True)
class Reference:
    """Rows of `child` whose `child_columns` hold values of `parent_columns` of `parent` rows."""

    child: str
    child_columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    constraint: str | None = None
    located_children: bool = False  # the locator found every referring row (a map link)
    enforced: bool = False  # a foreign key of the database (SQLite's have no name)

    def describe(self) -> str:
        """Name the reference for staff: its constraint, tables and columns."""
        parts = {
            "child": self.child,
            "child_columns": ", ".join(self.child_columns),
            "parent": self.parent,
            "parent_columns": ", ".join(self.parent_columns),
        }
        if self.constraint:
            return Phrase(
                N_(
                    "foreign key `%(name)s` from `%(child)s`(%(child_columns)s) to "
                    "`%(parent)s`(%(parent_columns)s)"
                ),
                name=self.constraint,
                **parts,
            )
        return Phrase(
            N_(
                "foreign key without a name from `%(child)s`(%(child_columns)s) to "
                "`%(parent)s`(%(parent_columns)s)"
            ),
            **parts,
        )


def system_references(data_map: DataMap, system: str, conn: Connection) -> list[Reference]:
    """Return the map's links and owners and the live foreign keys, each as child -> parent."""
    spec = data_map.systems[system].tables
    refs: dict[tuple[str, tuple[str, ...], str, tuple[str, ...]], Reference] = {}
    for name, table_spec in spec.items():
        for link in table_spec.links:
            if spec[link.target_table].primary_key == [link.target_column]:
                ref = Reference(
                    name, (link.column,), link.target_table, (link.target_column,), None, True
                )
            else:  # the link reaches a parent through the subject's child rows
                ref = Reference(link.target_table, (link.target_column,), name, (link.column,))
            refs[(ref.child, ref.child_columns, ref.parent, ref.parent_columns)] = ref
        if table_spec.owner is not None:
            owner = table_spec.owner
            ref = Reference(name, (owner.column,), owner.target_table, (owner.target_column,))
            refs.setdefault((ref.child, ref.child_columns, ref.parent, ref.parent_columns), ref)
    for fk in foreign_keys(conn):
        if fk.parent not in spec:
            continue
        key = (fk.child, fk.child_columns, fk.parent, fk.parent_columns)
        known = refs.get(key)
        refs[key] = (
            Reference(*key, fk.constraint, known.located_children, enforced=True)
            if known is not None
            else fk
        )
    return list(refs.values())


_FK_CACHE: weakref.WeakKeyDictionary[Engine, list[Reference]] = weakref.WeakKeyDictionary()


def foreign_keys(conn: Connection) -> list[Reference]:
    """Reflect every foreign key of the database once per engine (a schema seldom changes).

    The same list is returned until `forget_schema`: callers may tell a new reflection by it.
    """
    cached = _FK_CACHE.get(conn.engine)
    if cached is not None:
        return cached
    found: list[Reference] = []
    for (_, child), fks in sorted(inspect(conn).get_multi_foreign_keys().items()):
        for fk in fks:
            name = fk.get("name")
            found.append(
                Reference(
                    child,
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    name or None,
                    enforced=True,
                )
            )
    _FK_CACHE[conn.engine] = found
    return found


def forget_schema(engine: Engine) -> None:
    """Reflect the foreign keys again next time (after a schema change on `engine`)."""
    _FK_CACHE.pop(engine, None)


def execution_order(data_map: DataMap, system: str, references: list[Reference]) -> list[str]:
    """Return the mapped tables with children before parents (links and live foreign keys)."""
    names = list(data_map.systems[system].tables)
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for name in names:
        sorter.add(name)
    for ref in references:
        if ref.child in names and ref.parent in names and ref.child != ref.parent:
            sorter.add(ref.parent, ref.child)
    try:
        return list(sorter.static_order())
    except CycleError:
        return list(reversed(link_order(data_map, system)))


def referred_values(
    ref: Reference, parent: KeyedTable, parent_keys: Sequence[Key]
) -> dict[Key, list[Key]]:
    """Return, for the given parent rows (`parent` keyed by its primary key), value of the
    referred columns -> their keys."""
    parent_pk = parent.columns
    if ref.parent_columns == parent_pk:
        return {k: [k] for k in parent_keys}
    values: dict[Key, list[Key]] = {}
    cols = [parent.table.c[c] for c in dict.fromkeys([*parent_pk, *ref.parent_columns])]
    for chunk in chunks(parent_keys):
        found_rows = parent.rows(
            ("parent-values", ref.parent_columns), partial(select_where, cols), chunk
        )
        for row in found_rows:
            mapping = row._mapping
            value = tuple(mapping[c] for c in ref.parent_columns)
            if None not in value:
                values.setdefault(value, []).append(tuple(mapping[c] for c in parent_pk))
    return values


def referring_rows(
    ref: Reference,
    parent: KeyedTable,
    parent_keys: Sequence[Key],
    child: KeyedTable,
    candidates: list[Key] | None,
) -> Iterator[tuple[Key, Key]]:
    """Yield (parent key, child key) for child rows that refer to the given parent rows; both
    tables are keyed by their primary key.

    With `candidates` (child rows known to hold every referring row) the candidates are read and
    matched here; otherwise the child table is searched by its referring columns.
    """
    values = referred_values(ref, parent, parent_keys)
    child_pk = child.columns
    cols = [child.table.c[c] for c in dict.fromkeys([*child_pk, *ref.child_columns])]
    kind = ("referring-rows", ref.child_columns)
    if candidates is not None:
        keyed = child
        batches: Iterator[Sequence[Key]] = chunks(candidates)
    else:
        keyed = child.by(ref.child_columns)
        batches = chunks(list(values))
    for chunk in batches:
        for row in keyed.rows(kind, partial(select_where, cols), chunk):
            mapping = row._mapping
            child_key = tuple(mapping[c] for c in child_pk)
            for parent_key in values.get(tuple(mapping[c] for c in ref.child_columns), []):
                yield parent_key, child_key


def referred_by_unknown_table(
    ref: Reference, parent: KeyedTable, parent_keys: Sequence[Key]
) -> bool:
    """Tell whether `ref.child`, a table the map does not know, refers to any of the rows."""
    values = referred_values(ref, parent, parent_keys)
    child = table(ref.child, *(column(c) for c in ref.child_columns))
    for chunk in chunks(list(values)):
        predicate = key_in(child, ref.child_columns, chunk)
        if parent.conn.execute(select(exists().where(predicate))).scalar():
            return True
    return False
