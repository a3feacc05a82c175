"""Find one person's rows in every system by following the map's identities and links.

Two phases keep memory flat whatever the size of the subject:
1. `locate_subject` walks each system's tables in link order with one set-based query per table
   per hop (values sent in chunks), keeping only primary keys and the key values that other
   tables link to;
2. `iter_category_rows` streams the rows of a category back, by primary key, in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    false,
    func,
    select,
    tuple_,
)
from sqlalchemy.exc import SQLAlchemyError

from inventory.keyed import Key, chunks, run_keyed, select_where
from inventory.model import Category, DataMap, IdentityKind
from inventory.systems import Systems, SystemUnavailable, short_reason
from inventory.validation import link_order


class UnknownIdentity(ValueError):
    """The identity type asked for is not declared in the map."""


@dataclass
class TableMatch:
    """The subject's rows of one table: their primary keys, and which of them they own."""

    system: str
    table: str
    primary_key: tuple[str, ...]
    keys: list[Key] = field(default_factory=list)
    not_owned: set[Key] = field(default_factory=set)
    carried: dict[str, set[Any]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class Flag:
    """Something staff must look at, e.g. one email matching two accounts."""

    system: str
    table: str
    message: str


@dataclass
class SubjectLocation:
    """Where a subject's data is: per (system, table), the keys of their rows."""

    identity: str
    tables: dict[tuple[str, str], TableMatch] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return any(match.keys for match in self.tables.values())

    def match(self, system: str, table: str) -> TableMatch | None:
        return self.tables.get((system, table))

    def owned_keys(self, system: str, table: str) -> list[Key]:
        """Return the keys of the subject's own rows of a table (not those of another owner)."""
        match = self.tables.get((system, table))
        return [k for k in match.keys if k not in match.not_owned] if match else []


@dataclass(frozen=True)
class CategoryRow:
    """One row of a category: where it is, its key, the category's columns, whose it is."""

    system: str
    table: str
    primary_key: dict[str, Any]
    values: dict[str, Any]
    owned: bool


def locate_subject(
    data_map: DataMap, systems: Systems, identity: str, value: str
) -> SubjectLocation:
    """Return the keys of every row of the person known by `identity` = `value`.

    Raise `UnknownIdentity` for an identity the map does not declare and `SystemUnavailable`
    when a system cannot be read.
    """
    if identity not in data_map.identities:
        known = ", ".join(sorted(data_map.identities))
        raise UnknownIdentity(f"the map declares no identity `{identity}` (known: {known})")
    spec = data_map.identities[identity]
    normalized = spec.normalize(value)
    location = SubjectLocation(identity=identity)
    if not normalized:
        return location
    for system in data_map.systems:
        try:
            _locate_in_system(data_map, systems, system, identity, normalized, location)
        except SQLAlchemyError as exc:
            raise SystemUnavailable(system, short_reason(exc)) from exc
    return location


def _needed_columns(data_map: DataMap, system: str) -> dict[str, set[str]]:
    """Return, per table, the columns whose values other tables link to."""
    needed: dict[str, set[str]] = {}
    for table in data_map.systems[system].tables.values():
        for link in [*table.links, *([table.owner] if table.owner else [])]:
            needed.setdefault(link.target_table, set()).add(link.target_column)
    return needed


def _locate_in_system(
    data_map: DataMap,
    systems: Systems,
    system: str,
    identity: str,
    value: str,
    location: SubjectLocation,
) -> None:
    spec = data_map.identities[identity]
    tables = systems.tables(system)
    needed = _needed_columns(data_map, system)
    identity_columns: dict[str, list[tuple[str, bool, bool]]] = {}
    for loc in spec.locations.get(system, []):
        t, c = loc.column.split(".", 1)
        identity_columns.setdefault(t, []).append((c, loc.expect_one, loc.normalised))

    with systems.connect(system) as conn:
        for name in link_order(data_map, system):
            table_spec = data_map.systems[system].tables[name]
            table = tables[name]
            owner = table_spec.owner
            match = TableMatch(
                system,
                name,
                tuple(table_spec.primary_key),
                carried={c: set() for c in sorted(needed.get(name, set()))},
            )
            select_cols = [*match.primary_key, *match.carried]
            owner_values: set[Any] | None = None
            if owner is not None:
                select_cols.append(owner.column)
                target = location.match(system, owner.target_table)
                owner_values = target.carried.get(owner.target_column, set()) if target else set()
            names = list(dict.fromkeys(select_cols))
            columns = [table.c[c] for c in names]
            collector = _RowCollector(match, owner.column if owner else None, owner_values)
            for column_name, expect_one, normalised in identity_columns.get(name, []):
                predicate = _identity_predicate(table, column_name, spec.kind, value, normalised)
                found = collector.take(conn.execute(select(*columns).where(predicate)), names)
                if expect_one and found > 1:
                    location.flags.append(
                        Flag(
                            system,
                            name,
                            f"{found} rows of `{name}` match this {identity}: the same person "
                            "may have several accounts; check them before acting.",
                        )
                    )
            for link in table_spec.links:
                target = location.match(system, link.target_table)
                values = sorted(target.carried.get(link.target_column, set())) if target else []
                if not values:
                    continue
                key = ("link", system, name, link.column, tuple(c.name for c in columns))
                for chunk in chunks(values):
                    collector.take(
                        _select_in(conn, systems, key, columns, table.c[link.column], chunk),
                        names,
                    )
            location.tables[(system, name)] = match


@dataclass
class _RowCollector:
    """Add rows to a match once each, keeping the values other tables link to."""

    match: TableMatch
    owner_column: str | None
    owner_values: set[Any] | None
    seen: set[Key] = field(default_factory=set)

    def take(self, rows: Iterable[Any], columns: Sequence[str]) -> int:
        """Record the rows (read by position in `columns`); return how many the query gave,
        duplicates included."""
        n = 0
        pk = [columns.index(c) for c in self.match.primary_key]
        carried = [(columns.index(c), values) for c, values in self.match.carried.items()]
        owner = columns.index(self.owner_column) if self.owner_column is not None else None
        seen, keys, not_owned = self.seen, self.match.keys, self.match.not_owned
        owner_values = self.owner_values
        for row in rows:
            n += 1
            key = tuple(row[i] for i in pk)
            if key in seen:
                continue
            seen.add(key)
            keys.append(key)
            for i, values in carried:
                if row[i] is not None:
                    values.add(row[i])
            if (
                owner is not None
                and owner_values is not None
                and row[owner] is not None
                and row[owner] not in owner_values
            ):
                not_owned.add(key)
        return n


def _select_in(
    conn: Connection,
    systems: Systems,
    cache_key: tuple[Any, ...],
    columns: Sequence[ColumnElement[Any]],
    key: ColumnElement[Any],
    values: Sequence[Any],
    order_by: Sequence[ColumnElement[Any]] = (),
) -> Sequence[Any]:
    """Run `SELECT columns WHERE key IN values ORDER BY order_by`, built once per map (see
    `inventory.keyed`); a chunk holds at most `CHUNK` keys: its rows are fetched at once."""
    build = partial(_select_ordered, columns, order_by)
    return run_keyed(conn, systems, cache_key, build, key, values).fetchall()


def _select_ordered(
    columns: Sequence[ColumnElement[Any]],
    order_by: Sequence[ColumnElement[Any]],
    where: ColumnElement[bool],
) -> Select[Any]:
    return select_where(columns, where).order_by(*order_by)


def compared_form(column: ColumnElement[Any], kind: IdentityKind) -> ColumnElement[Any]:
    """Return what the locator compares with the normalised value of an identity stored in
    `column` that the map does not declare `normalised`: only an index on this serves it."""
    if kind is IdentityKind.EMAIL:
        # lower(column) alone, so that an index on lower(email) serves the lookup; the value
        # given is already trimmed and lower-cased.
        return func.lower(column)
    if kind is IdentityKind.PHONE:
        stripped: ColumnElement[Any] = column
        for separator in (" ", ".", "-", "(", ")"):
            stripped = func.replace(stripped, separator, "")
        return stripped
    return column


def _identity_predicate(
    table: Table, column: str, kind: IdentityKind, value: str, normalised: bool = False
) -> ColumnElement[bool]:
    col = table.c[column]
    if kind in (IdentityKind.EMAIL, IdentityKind.PHONE):
        # A column declared normalised is matched as stored, so that a plain index serves it.
        return (col if normalised else compared_form(col, kind)) == value
    try:
        python_type = col.type.python_type
    except NotImplementedError:
        python_type = str
    if python_type is int:
        if not value.lstrip("-").isdigit():
            return false()
        return col == int(value)
    return col == value


def category_tables(data_map: DataMap, category: Category) -> list[tuple[str, str, list[str]]]:
    """Return (system, table, columns) for each table holding the category's fields, in order."""
    seen: dict[tuple[str, str], list[str]] = {}
    for f in category.fields:
        seen.setdefault((f.system or category.system, f.table), []).append(f.name)
    return [(s, t, cols) for (s, t), cols in seen.items()]


@dataclass(frozen=True)
class TableRows:
    """One table's rows of a category, as tuples: the primary key's values, then the columns'.

    `batches` yields lists of rows (at most `inventory.keyed.CHUNK` each) read by primary key; a
    row whose key is in `not_owned` belongs to someone else (the map's `owner`).
    """

    system: str
    table: str
    primary_key: tuple[str, ...]
    columns: tuple[str, ...]
    not_owned: frozenset[Key]
    batches: Iterator[Sequence[tuple[Any, ...]]]


def iter_category_tables(
    data_map: DataMap,
    systems: Systems,
    location: SubjectLocation,
    category_id: str,
    columns_of: Callable[[str, str, list[str]], list[str]] | None = None,
) -> Iterator[TableRows]:
    """Stream the subject's rows of one category table by table, without a dict per row.

    `columns_of(system, table, columns)` may narrow the columns read (e.g. leave out what is never
    disclosed). Raise `SystemUnavailable` when a system fails while its rows are read.
    """
    category = data_map.categories[category_id]
    for system, table_name, all_columns in category_tables(data_map, category):
        match = location.match(system, table_name)
        if match is None or not match.keys:
            continue
        columns = columns_of(system, table_name, all_columns) if columns_of else all_columns
        pk = match.primary_key
        yield TableRows(
            system,
            table_name,
            pk,
            tuple(columns),
            frozenset(match.not_owned),
            _table_batches(systems, system, table_name, match, columns),
        )


def _table_batches(
    systems: Systems, system: str, table_name: str, match: TableMatch, columns: list[str]
) -> Iterator[Sequence[tuple[Any, ...]]]:
    table = systems.tables(system)[table_name]
    pk = match.primary_key
    wanted = list(dict.fromkeys([*pk, *columns]))
    key_expr = table.c[pk[0]] if len(pk) == 1 else tuple_(*(table.c[c] for c in pk))
    selected = [table.c[c] for c in wanted]
    order = [table.c[c] for c in pk]
    cache_key = ("rows", system, table_name, tuple(wanted))
    # Rows come back in `wanted` order; a column that is also part of the key is read twice.
    positions = [wanted.index(c) for c in [*pk, *columns]]
    plain = positions == list(range(len(wanted)))
    try:
        with systems.connect(system) as conn:
            for chunk in chunks(match.keys):
                keys = [k[0] for k in chunk] if len(pk) == 1 else list(chunk)
                rows = _select_in(conn, systems, cache_key, selected, key_expr, keys, order)
                if plain:
                    yield [tuple(row) for row in rows]
                else:
                    yield [tuple(row[i] for i in positions) for row in rows]
    except SQLAlchemyError as exc:
        raise SystemUnavailable(system, short_reason(exc)) from exc


def iter_category_rows(
    data_map: DataMap, systems: Systems, location: SubjectLocation, category_id: str
) -> Iterator[CategoryRow]:
    """Stream the subject's rows of one category, table by table, by primary key in chunks."""
    for part in iter_category_tables(data_map, systems, location, category_id):
        width = len(part.primary_key)
        for batch in part.batches:
            for row in batch:
                key = row[:width]
                yield CategoryRow(
                    system=part.system,
                    table=part.table,
                    primary_key=dict(zip(part.primary_key, key, strict=True)),
                    values=dict(zip(part.columns, row[width:], strict=True)),
                    owned=key not in part.not_owned,
                )


def category_counts(data_map: DataMap, location: SubjectLocation) -> dict[str, dict[str, int]]:
    """Return, per category, the number of rows per `system.table`, without reading the rows."""
    counts: dict[str, dict[str, int]] = {}
    for cat_id, category in data_map.categories.items():
        for system, table, _ in category_tables(data_map, category):
            match = location.match(system, table)
            if match is not None and match.keys:
                counts.setdefault(cat_id, {})[f"{system}.{table}"] = match.count
    return counts
