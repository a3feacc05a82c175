"""Shared rows: which rows an erasure would delete must stay, and what blocks it.

A row the subject's data would delete is kept while another person's row still refers to it: a
row outside the subject's location, or one of theirs that the map's `owner` says belongs to
someone else. Such a row is reported as retained ("shared"), and the rows of an owner table that
belong to the organisation (owner NULL, e.g. staff replies) follow the row they hang from: they go
with it, or stay with it. So a support thread shared by two learners keeps the other learner's
participation, messages and the staff's replies; the subject's own participation and messages go;
a thread the subject alone took part in goes whole.

A live foreign key from a table the map does not know, pointing at a row to delete, blocks the
system (the erasure plan names the constraint in `blocked`; execution fails, changing nothing); so
does a row the map keeps for the subject (retained or anonymised) that a foreign key ties to a row
another category deletes: the map contradicts itself there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Protocol

from sqlalchemy import Connection, Table

from inventory.keyed import Key, KeyedTable, chunks, select_where
from inventory.locator import SubjectLocation
from inventory.model import DataMap
from inventory.model import Table as TableSpec
from inventory.phrases import N_, Phrase
from inventory.references import Reference, referred_by_unknown_table, referring_rows
from inventory.systems import Systems


class DeletingTable(Protocol):
    """One table's part of an erasure: the keys it deletes and those it keeps as shared."""

    primary_key: tuple[str, ...]
    delete: dict[Key, None]
    shared: dict[Key, None]


def keep_shared_rows(
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    system: str,
    location: SubjectLocation,
    tables: dict[str, Table],
    works: Mapping[str, DeletingTable],
    references: list[Reference],
) -> list[str]:
    """Move the rows to delete that others still refer to from each table's `delete` to its
    `shared`, until nothing moves; return what blocks the deletion (empty when nothing does)."""
    spec = data_map.systems[system].tables

    def keyed(name: str) -> KeyedTable:
        return KeyedTable(conn, systems, system, tables[name], works[name].primary_key)

    followers = _organisation_rows(spec, works, keyed)
    own: dict[str, set[Key]] = {}
    for name in spec:
        own[name] = set(location.owned_keys(system, name))
    blocked: dict[str, None] = {}
    changed = True
    while changed:
        changed = False
        for ref in references:
            parent = works.get(ref.parent)
            if parent is None or not parent.delete:
                continue
            if ref.child not in spec:
                if referred_by_unknown_table(ref, keyed(ref.parent), list(parent.delete)):
                    blocked[
                        Phrase(
                            N_(
                                "table `%(child)s`, which the map does not know, refers to rows "
                                "of `%(parent)s` that the erasure deletes (%(reference)s)"
                            ),
                            child=ref.child,
                            parent=ref.parent,
                            reference=ref.describe(),
                        )
                    ] = None
                continue
            child = works[ref.child]
            candidates: list[Key] | None = None
            if ref.located_children:  # every referring row is among the located ones
                match = location.match(system, ref.child)
                located = match.keys if match else []
                candidates = [k for k in located if k not in child.delete]
                if not candidates:
                    continue
            for parent_key, child_key in referring_rows(
                ref, keyed(ref.parent), list(parent.delete), keyed(ref.child), candidates
            ):
                if child_key in child.delete:
                    continue
                if child_key in own[ref.child] and child_key not in child.shared:
                    # The subject's own row, kept by the map (retained or anonymised).
                    if ref.enforced:
                        blocked[
                            Phrase(
                                N_(
                                    "rows of `%(child)s` kept for the subject refer to rows of "
                                    "`%(parent)s` that the erasure deletes (%(reference)s): the "
                                    "map contradicts itself"
                                ),
                                child=ref.child,
                                parent=ref.parent,
                                reference=ref.describe(),
                            )
                        ] = None
                    continue
                if parent_key in parent.delete:  # another person's row, or a shared one
                    del parent.delete[parent_key]
                    parent.shared[parent_key] = None
                    changed = True
        for name, rows in followers.items():
            work = works[name]
            for key, parents in rows.items():
                if key in work.delete and any(pk in works[t].shared for t, pk in parents):
                    del work.delete[key]
                    work.shared[key] = None
                    changed = True
    return list(blocked)


def _organisation_rows(
    spec: dict[str, TableSpec],
    works: Mapping[str, DeletingTable],
    keyed_table: Callable[[str], KeyedTable],
) -> dict[str, dict[Key, list[tuple[str, Key]]]]:
    """Return, per owner table, its rows without an owner and the rows they hang from."""
    found: dict[str, dict[Key, list[tuple[str, Key]]]] = {}
    for name, table_spec in spec.items():
        work = works[name]
        if table_spec.owner is None or not work.delete:
            continue
        links = [
            link
            for link in table_spec.links
            if spec[link.target_table].primary_key == [link.target_column]
        ]
        keyed = keyed_table(name)
        table = keyed.table
        columns = [table.c[c] for c in dict.fromkeys([*work.primary_key, table_spec.owner.column])]
        columns += [table.c[link.column] for link in links]
        rows: dict[Key, list[tuple[str, Key]]] = {}
        for chunk in chunks(list(work.delete)):
            found_rows = keyed.rows(
                "organisation-rows",
                partial(select_where, columns),
                chunk,
            )
            for row in found_rows:
                mapping = row._mapping
                if mapping[table_spec.owner.column] is not None:
                    continue
                key = tuple(mapping[c] for c in work.primary_key)
                rows[key] = [
                    (link.target_table, (mapping[link.column],))
                    for link in links
                    if mapping[link.column] is not None
                ]
        found[name] = rows
    return found
