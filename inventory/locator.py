"""Find one person's rows in every system by following the map's identities and links.

Two phases keep memory flat whatever the size of the subject:
1. `locate_subject` walks each system's tables in link order with one set-based query per table
   per hop (values sent in chunks), keeping only primary keys and the key values that other
   tables link to;
2. `iter_category_rows` streams the rows of a category back, by primary key, in chunks.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, overload

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    false,
    func,
    select,
    tuple_,
)
from sqlalchemy.exc import SQLAlchemyError

from inventory.keyed import (
    CHUNK,
    KEYS,
    Key,
    chunks,
    keyed_sql,
    run_keyed,
    run_pipelined,
    select_where,
    stream_keyed,
)
from inventory.model import Category, DataMap, IdentityKind
from inventory.phrases import N_, Phrase
from inventory.systems import Systems, SystemUnavailable, is_schema_error, short_reason
from inventory.validation import dependencies, link_order


class UnknownIdentity(ValueError):
    """The identity type asked for is not declared in the map."""


_SMALLEST, _LARGEST = -(2**63), 2**63 - 1
"""The integers an `array('q')` holds."""


class Keys(Sequence[Key]):
    """The keys of a table's located rows, in the order found, read as a list of tuples.

    A person may have a million rows in one table: as tuples their keys alone took some 80 MB.
    While every key is one 64-bit integer (the usual `id`) they are kept in an `array('q')`, 8
    bytes each, and given back as the same one-value tuples; the first key of another shape turns
    the storage into a plain list of tuples.
    """

    __slots__ = ("_integers", "_tuples")

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._integers: array[int] | None = array("q")
        self._tuples: list[Key] = []
        for key in keys:
            self.append(key)

    def append(self, key: Key) -> None:
        integers = self._integers
        if integers is not None:
            value = key[0] if len(key) == 1 else None
            if type(value) is int and _SMALLEST <= value <= _LARGEST:
                integers.append(value)
                return
            self._tuples = list(zip(integers, strict=True))
            self._integers = None
        self._tuples.append(tuple(key))

    def __len__(self) -> int:
        return len(self._integers) if self._integers is not None else len(self._tuples)

    def __iter__(self) -> Iterator[Key]:
        if self._integers is not None:
            return zip(self._integers, strict=True)
        return iter(self._tuples)

    @overload
    def __getitem__(self, index: int) -> Key: ...

    @overload
    def __getitem__(self, index: slice) -> list[Key]: ...

    def __getitem__(self, index: int | slice) -> Key | list[Key]:
        """Return a key, or a slice of them as a list (as `inventory.keyed.chunks` takes)."""
        if self._integers is None:
            return self._tuples[index]
        if isinstance(index, slice):
            return list(zip(self._integers[index], strict=True))
        return (self._integers[index],)

    def __contains__(self, key: object) -> bool:
        if self._integers is None:
            return key in self._tuples
        return isinstance(key, tuple) and len(key) == 1 and key[0] in self._integers

    def __eq__(self, other: object) -> bool:
        """Equal to the same keys in the same order, as `Keys` or as a list of tuples."""
        if isinstance(other, Keys):
            if self._integers is not None and other._integers is not None:
                return self._integers == other._integers
            return list(self) == list(other)
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Keys({list(self)!r})"


@dataclass
class TableMatch:
    """The subject's rows of one table: their primary keys, and which of them they own.

    `keys` given as a list of tuples is stored as `Keys`.
    """

    system: str
    table: str
    primary_key: tuple[str, ...]
    keys: Sequence[Key] = field(default_factory=Keys)
    not_owned: set[Key] = field(default_factory=set)
    carried: dict[str, set[Any]] = field(default_factory=dict)
    sides: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    """For a table of rows shared by several people (the map's `sides`): the sides the subject
    is on in each row found; a row on none of them is not theirs (in `not_owned`)."""
    read_ahead: dict[tuple[Any, ...], list[tuple[Any, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Rows read before they are asked for (`read_ahead`), per statement, until they are."""

    def __post_init__(self) -> None:
        if not isinstance(self.keys, Keys):
            self.keys = Keys(self.keys)

    @property
    def count(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class Flag:
    """Something staff must look at, e.g. one email matching two accounts."""

    system: str
    table: str
    message: str


@dataclass(frozen=True)
class MentionMatch:
    """Rows of other people that name the subject in `column` (a field that `identifies` them,
    such as a gift's recipient email): not the subject's data, but erased with them."""

    system: str
    table: str
    column: str
    category: str
    primary_key: tuple[str, ...]
    keys: tuple[Key, ...]


@dataclass
class SubjectLocation:
    """Where a subject's data is: per (system, table), the keys of their rows; and the rows of
    others that mention them."""

    identity: str
    tables: dict[tuple[str, str], TableMatch] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    mentions: list[MentionMatch] = field(default_factory=list)

    @property
    def mentioned(self) -> bool:
        return any(m.keys for m in self.mentions)

    @property
    def found(self) -> bool:
        return any(match.keys for match in self.tables.values())

    def match(self, system: str, table: str) -> TableMatch | None:
        return self.tables.get((system, table))

    def owned_keys(self, system: str, table: str) -> Sequence[Key]:
        """Return the keys of the subject's own rows of a table (not those of another owner).

        Kept as compactly as the match keeps them (`Keys`), and the match's own when every row
        is the subject's: a million keys copied into a list of tuples took some 80 MB."""
        match = self.tables.get((system, table))
        if match is None:
            return Keys()
        if not match.not_owned:
            return match.keys
        return Keys(k for k in match.keys if k not in match.not_owned)


@dataclass(frozen=True)
class CategoryRow:
    """One row of a category: where it is, its key, the category's columns, whose it is."""

    system: str
    table: str
    primary_key: dict[str, Any]
    values: dict[str, Any]
    owned: bool


def locate_subject(
    data_map: DataMap,
    systems: Systems,
    identity: str,
    value: str,
    *,
    others: Sequence[tuple[str, str]] = (),
) -> SubjectLocation:
    """Return the keys of every row of the person known by `identity` = `value`, and by each
    of the `others` (identity, value) pairs too: another account of the same person under a
    second address, their phone number. The rows found from any of them are the person's, and
    the map's links are followed from all of them.

    Raise `UnknownIdentity` for an identity the map does not declare and `SystemUnavailable`
    when a system cannot be read.
    """
    lookups: list[tuple[str, str]] = []
    for name, given in [(identity, value), *others]:
        if name not in data_map.identities:
            known = ", ".join(sorted(data_map.identities))
            raise UnknownIdentity(f"the map declares no identity `{name}` (known: {known})")
        normalized = data_map.identities[name].normalize(given)
        if normalized and (name, normalized) not in lookups:
            lookups.append((name, normalized))
    location = SubjectLocation(identity=identity)
    if not lookups:
        return location
    names = list(data_map.systems)
    locate = partial(_locate_system, data_map, systems, identity, tuple(lookups))
    if len(names) == 1:
        found = [locate(names[0])]
    else:  # links never leave their system: each is located in a thread of its own
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="locate") as pool:
            futures = [pool.submit(locate, system) for system in names]
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        found = [f.result() for f in futures]
    for part in found:  # in the map's order, as if located one system after the other
        location.tables.update(part.tables)
        location.flags.extend(part.flags)
        location.mentions.extend(part.mentions)
    return location


Lookups = tuple[tuple[str, str], ...]
"""The (identity, normalised value) pairs a subject is located by."""


def _locate_system(
    data_map: DataMap, systems: Systems, identity: str, lookups: Lookups, system: str
) -> SubjectLocation:
    """Locate the subject in one system, again once when its schema changed under the
    reflection (see `inventory.systems`)."""
    try:
        return _located_in_system(data_map, systems, system, identity, lookups)
    except SQLAlchemyError as exc:
        if not is_schema_error(exc):
            raise SystemUnavailable(system, short_reason(exc)) from exc
        systems.note_error(system, exc)  # a pipeline's statements pass no engine event
    try:  # the system was marked stale: its tables are reflected again
        return _located_in_system(data_map, systems, system, identity, lookups)
    except SQLAlchemyError as exc:
        raise SystemUnavailable(system, short_reason(exc)) from exc


def _located_in_system(
    data_map: DataMap, systems: Systems, system: str, identity: str, lookups: Lookups
) -> SubjectLocation:
    location = SubjectLocation(identity=identity)
    _locate_in_system(data_map, systems, system, lookups, location)
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
    lookups: Lookups,
    location: SubjectLocation,
) -> None:
    tables = systems.tables(system)
    plans = _locate_plan(data_map, systems, system, tables)
    identity_columns: dict[str, list[tuple[str, bool, bool, str, str]]] = {}
    for identity, value in lookups:
        for loc in data_map.identities[identity].locations.get(system, []):
            t, c = loc.column.split(".", 1)
            identity_columns.setdefault(t, []).append(
                (c, loc.expect_one, loc.normalised, identity, value)
            )

    pipelined = systems.engine(system).dialect.name == "postgresql"
    with systems.connect(system) as conn:
        waiting: list[_TableLookups] = []  # tables whose statements go together at the next flush
        for plan in plans:
            name = plan.name
            if (waiting and not pipelined) or any(t.match.table in plan.targets for t in waiting):
                _flush(conn, systems, location, waiting)
                waiting = []
            waiting.append(_table_lookups(plan, system, location))
            for column_name, expect_one, normalised, identity, value in identity_columns.get(
                name, []
            ):
                kind = data_map.identities[identity].kind
                bound = _identity_bound(tables[name], column_name, kind, value)
                predicate = partial(
                    _identity_predicate, tables[name], column_name, kind, value, normalised
                )
                key = ("identity", system, name, column_name, kind, normalised, bool(bound))
                waiting[-1].identities.append((predicate, expect_one, identity, (key, bound)))
        _flush(conn, systems, location, waiting)
        # others' rows naming any identity of the person
        location.mentions.extend(_mentions(data_map, systems, conn, tables, system, lookups))


@dataclass(frozen=True)
class _TablePlan:
    """What the locator reads of one table, the same for every person (see `_locate_plan`)."""

    name: str
    targets: list[str]  # the tables whose rows are found before this one's
    primary_key: tuple[str, ...]
    carried: list[str]  # the columns other tables link to, in order
    names: list[str]  # the columns selected, in order
    columns: list[ColumnElement[Any]]
    owner: tuple[str, str, str] | None  # (column, target table, target column)
    sides: list[tuple[str, str, str, str]]  # (side, link column, target table, target column)
    links: list[tuple[tuple[Any, ...], ColumnElement[Any], str, str]]
    """(statement cache key, link column, target table, target column)"""


def _locate_plan(
    data_map: DataMap, systems: Systems, system: str, tables: dict[str, Table]
) -> list[_TablePlan]:
    """The system's tables in link order with what is read of each, worked out once per map
    and reflection (`tables`, held by the plan's columns, names it)."""
    build = partial(_new_locate_plan, data_map, system, tables)
    return systems.memo_for(data_map, ("locate-plan", system, id(tables)), build)


def _new_locate_plan(data_map: DataMap, system: str, tables: dict[str, Table]) -> list[_TablePlan]:
    needed = _needed_columns(data_map, system)
    plans = []
    for name in link_order(data_map, system):
        spec = data_map.systems[system].tables[name]
        table = tables[name]
        primary_key = tuple(spec.primary_key)
        carried = sorted(needed.get(name, set()))
        select_cols = [*primary_key, *carried]
        owner = spec.owner
        if owner is not None:
            select_cols.append(owner.column)
        sides = []
        for side in spec.sides:
            link = next(lk for lk in spec.links if lk.column == side.link)
            sides.append((side.name, side.link, link.target_table, link.target_column))
            select_cols.append(side.link)
        names = list(dict.fromkeys(select_cols))
        selected = tuple(names)
        plans.append(
            _TablePlan(
                name=name,
                targets=dependencies(data_map, system, name),
                primary_key=primary_key,
                carried=carried,
                names=names,
                columns=[table.c[c] for c in names],
                owner=((owner.column, owner.target_table, owner.target_column) if owner else None),
                sides=sides,
                links=[
                    (
                        ("link", system, name, link.column, selected),
                        table.c[link.column],
                        link.target_table,
                        link.target_column,
                    )
                    for link in spec.links
                ],
            )
        )
    return plans


LOOKAHEAD_ROWS = CHUNK
"""The rows a link's lookup may bring in a pipeline: one that brings more is read again,
streamed (`stream_keyed`), so that a pipeline never holds more than this per statement."""


@dataclass
class _TableLookups:
    """One table's lookups in the locator: by the person's identities, then by each link."""

    match: TableMatch
    collector: _RowCollector
    names: list[str]  # the columns selected, in order
    columns: Sequence[ColumnElement[Any]]
    links: list[tuple[tuple[Any, ...], ColumnElement[Any], Sequence[Any]]]
    """(statement cache key, link column, one chunk of the values it points at)"""
    identities: list[
        tuple[Callable[[], ColumnElement[bool]], bool, str, tuple[tuple[Any, ...], dict[str, Any]]]
    ] = field(default_factory=list)
    """(what builds the predicate, the map expects one row, identity, (the statement's cache
    key, its parameter))"""


def _table_lookups(plan: _TablePlan, system: str, location: SubjectLocation) -> _TableLookups:
    """Prepare the lookups of a table: its link targets' rows are found already."""
    keys = Keys()
    match = TableMatch(
        system, plan.name, plan.primary_key, keys, carried={c: set() for c in plan.carried}
    )
    owner_values: set[Any] | None = None
    if plan.owner is not None:
        owner_values = _carried(location, system, plan.owner[1], plan.owner[2])
    collector = _RowCollector(match, keys, plan.owner[0] if plan.owner else None, owner_values)
    collector.side_links = [
        (side, column, _carried(location, system, target_table, target_column))
        for side, column, target_table, target_column in plan.sides
    ]
    links: list[tuple[tuple[Any, ...], ColumnElement[Any], Sequence[Any]]] = []
    for key, column, target_table, target_column in plan.links:
        values = sorted(_carried(location, system, target_table, target_column))
        links.extend((key, column, chunk) for chunk in chunks(values))
    return _TableLookups(match, collector, plan.names, plan.columns, links)


def _carried(location: SubjectLocation, system: str, table: str, column: str) -> set[Any]:
    """The values of `column` in the subject's rows of `table` found so far."""
    target = location.match(system, table)
    return target.carried.get(column, set()) if target else set()


def _flush(
    conn: Connection, systems: Systems, location: SubjectLocation, waiting: list[_TableLookups]
) -> None:
    """Run the waiting tables' lookups and record what they found, table by table in order.

    On PostgreSQL every lookup of the waiting tables (they do not link to one another), by the
    person's identities and by links, goes in one pipeline, capped at `LOOKAHEAD_ROWS` rows; a
    lookup that reaches the cap is run again (a link's streamed), in its turn. Elsewhere each
    runs in its turn, a link's streamed."""
    ahead: list[list[tuple[Any, ...]] | None] = []
    if conn.dialect.name == "postgresql" and any(t.links or t.identities for t in waiting):
        statements: list[tuple[str, dict[str, Any]]] = []
        for found in waiting:  # in the order their answers are taken below
            statements.extend(
                _identity_sql(conn, systems, found.columns, predicate, *lookup)
                for predicate, _, _, lookup in found.identities
            )
            statements.extend(
                (
                    keyed_sql(
                        conn,
                        systems,
                        key,
                        partial(select_where, found.columns),
                        column,
                        limit=LOOKAHEAD_ROWS,
                    ),
                    {KEYS: list(values)},
                )
                for key, column, values in found.links
            )
        ahead = list(run_pipelined(conn, statements))
        ahead.reverse()
    for found in waiting:
        match, collector, names = found.match, found.collector, found.names
        system, name = match.system, match.table
        for predicate, expect_one, identity, _ in found.identities:
            rows: Sequence[Any] | None = ahead.pop() if ahead else None
            if rows is None or len(rows) >= LOOKAHEAD_ROWS:
                rows = conn.execute(select(*found.columns).where(predicate())).fetchall()
            count = collector.take(rows, names)
            if expect_one and count > 1:
                location.flags.append(
                    Flag(
                        system,
                        name,
                        Phrase(
                            N_(
                                "%(count)s rows of `%(table)s` match this %(identity)s: the "
                                "same person may have several accounts; check them before "
                                "acting."
                            ),
                            count=str(count),
                            table=name,
                            identity=identity,
                        ),
                    )
                )
        for key, column, values in found.links:
            link_rows = ahead.pop() if ahead else None
            if link_rows is not None and len(link_rows) < LOOKAHEAD_ROWS:
                collector.take(link_rows, names)
                continue
            # Streamed: one value may bring a million rows.
            build = partial(select_where, found.columns)
            collector.take(stream_keyed(conn, systems, key, build, column, values), names)
        if collector.side_links:
            match.not_owned.update(k for k in match.keys if not match.sides.get(k))
        location.tables[(system, name)] = match


def _identity_sql(
    conn: Connection,
    systems: Systems,
    columns: Sequence[ColumnElement[Any]],
    predicate: Callable[[], ColumnElement[bool]],
    key: tuple[Any, ...],
    bound: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL driver SQL of a lookup by an identity, capped at `LOOKAHEAD_ROWS` rows,
    rendered once per table, column and selected columns, and its parameters for this value."""
    return _rendered(
        conn,
        systems,
        (*key, tuple(c.name for c in columns), LOOKAHEAD_ROWS),
        lambda: select(*columns).where(predicate()),
        bound,
        suffix=f" LIMIT {LOOKAHEAD_ROWS:d}",
    )


def _mentions(
    data_map: DataMap,
    systems: Systems,
    conn: Connection,
    tables: dict[str, Table],
    system: str,
    lookups: Lookups,
) -> list[MentionMatch]:
    """Find the rows whose fields `identify` the subject by any of the `lookups` (see
    `MentionMatch`), in their order; on PostgreSQL each statement is rendered once."""
    found: list[MentionMatch] = []
    for identity, value in lookups:
        kind = data_map.identities[identity].kind
        for category_id, table_name, column, pk in _mention_fields(
            data_map, systems, system, identity
        ):
            table = tables[table_name]
            bound = _identity_bound(table, column, kind, value)
            predicate = partial(_identity_predicate, table, column, kind, value)
            build = partial(_mention_select, table, pk, predicate)
            if conn.dialect.name == "postgresql":
                key = ("mention", system, table_name, column, kind, pk, bool(bound))
                sql, params = _rendered(conn, systems, key, build, bound)
                rows = conn.exec_driver_sql(sql, params).fetchall()
            else:
                rows = conn.execute(build()).fetchall()
            keys = tuple(tuple(row) for row in rows)
            if keys:
                found.append(MentionMatch(system, table_name, column, category_id, pk, keys))
    return found


def _mention_select(
    table: Table, pk: tuple[str, ...], predicate: Callable[[], ColumnElement[bool]]
) -> Select[Any]:
    return select(*(table.c[c] for c in pk)).where(predicate())


def _mention_fields(
    data_map: DataMap, systems: Systems, system: str, identity: str
) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(category, table, column, the table's primary key) of each field of `system` that
    `identifies` people by `identity`, in the map's order; worked out once per map."""

    def build() -> list[tuple[str, str, str, tuple[str, ...]]]:
        return [
            (
                category_id,
                f.table,
                f.name,
                tuple(data_map.systems[system].tables[f.table].primary_key),
            )
            for category_id, category in data_map.categories.items()
            for f in category.fields_in(system)
            if f.identifies == identity
        ]

    return systems.memo_for(data_map, ("mention-fields", system, identity), build)


def _rendered(
    conn: Connection,
    systems: Systems,
    key: tuple[Any, ...],
    statement: Callable[[], Select[Any]],
    bound: dict[str, Any],
    *,
    suffix: str = "",
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL driver SQL of a statement (with `suffix` after it), rendered once per
    `key`, and its parameters with `bound`, this person's value."""

    def render() -> tuple[str, dict[str, Any]]:
        compiled = statement().compile(dialect=conn.dialect)
        return f"{compiled}{suffix}", dict(compiled.params)

    sql, params = systems.memo(key, render)
    return sql, {**params, **bound}


@dataclass
class _RowCollector:
    """Add rows to a match once each, keeping the values other tables link to."""

    match: TableMatch
    keys: Keys
    owner_column: str | None
    owner_values: set[Any] | None
    seen: set[Key] | None = None
    side_links: list[tuple[str, str, set[Any]]] = field(default_factory=list)

    def take(self, rows: Iterable[Any], columns: Sequence[str]) -> int:
        """Record the rows (read by position in `columns`); return how many the query gave,
        duplicates included.

        One query's rows are distinct, so the set of the keys already taken, as big as they
        are, is built only when a later query adds to them.
        """
        n = 0
        pk = [columns.index(c) for c in self.match.primary_key]
        carried = [(columns.index(c), values) for c, values in self.match.carried.items()]
        owner = columns.index(self.owner_column) if self.owner_column is not None else None
        keys, not_owned = self.keys, self.match.not_owned
        if self.seen is None and keys:
            self.seen = set(keys)
        seen = self.seen
        owner_values = self.owner_values
        sides = [(name, columns.index(c), values) for name, c, values in self.side_links]
        row_sides = self.match.sides
        single = pk[0] if len(pk) == 1 else None  # the usual `id`: no generator per row
        for row in rows:
            n += 1
            key = (row[single],) if single is not None else tuple(row[i] for i in pk)
            if seen is not None:
                if key in seen:
                    continue
                seen.add(key)
            keys.append(key)
            for i, values in carried:
                if row[i] is not None:
                    values.add(row[i])
            if sides:
                row_sides[key] = tuple(side for side, i, values in sides if row[i] in values)
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


IDENTITY = "identity"
"""The parameter that carries the identity's value in a lookup: the statement is the same for
every person, so it is compiled (or rendered, see `_flush`) once."""


def _identity_predicate(
    table: Table, column: str, kind: IdentityKind, value: str, normalised: bool = False
) -> ColumnElement[bool]:
    """Return the condition of a lookup by an identity, its value bound as `IDENTITY` (the
    same statement for every value; see `_identity_bound`)."""
    col = table.c[column]
    bound = _identity_bound(table, column, kind, value)
    if not bound:
        return false()
    if kind in (IdentityKind.EMAIL, IdentityKind.PHONE) and not normalised:
        # A column declared normalised is matched as stored, so that a plain index serves it.
        return compared_form(col, kind) == bindparam(IDENTITY, bound[IDENTITY])
    return col == bindparam(IDENTITY, bound[IDENTITY])


def _identity_bound(table: Table, column: str, kind: IdentityKind, value: str) -> dict[str, Any]:
    """Return the parameter of a lookup by an identity (none for a value that cannot match):
    told apart from its condition, which is built only when a statement is (rendered once)."""
    if kind in (IdentityKind.EMAIL, IdentityKind.PHONE):
        return {IDENTITY: value}
    try:
        python_type = table.c[column].type.python_type
    except NotImplementedError:
        python_type = str
    if python_type is int:
        if not value.lstrip("-").isdigit():
            return {}
        return {IDENTITY: int(value)}
    return {IDENTITY: value}


def category_tables(data_map: DataMap, category: Category) -> list[tuple[str, str, list[str]]]:
    """Return (system, table, columns) for each table holding the category's fields, in order."""
    return [(s, t, list(cols)) for s, t, cols in category.field_tables]


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
    only: tuple[str, str] | None = None,
) -> Iterator[TableRows]:
    """Stream the subject's rows of one category table by table, without a dict per row.

    `columns_of(system, table, columns)` may narrow the columns read (e.g. leave out what is never
    disclosed); `only` = (system, table) leaves out the category's other tables. Raise
    `SystemUnavailable` when a system fails while its rows are read.
    """
    category = data_map.categories[category_id]
    for system, table_name, all_columns in category_tables(data_map, category):
        if only is not None and (system, table_name) != only:
            continue
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


@dataclass(frozen=True)
class _RowsStatement:
    """How one table's rows of a category are read by primary key (see `_table_batches`)."""

    cache_key: tuple[Any, ...]
    selected: list[ColumnElement[Any]]
    key: ColumnElement[Any]
    order: list[ColumnElement[Any]]
    positions: list[int]  # where each of the primary key's and the columns' values is read
    plain: bool  # the rows come back as they are yielded

    def shaped(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if self.plain:
            return [tuple(row) for row in rows]
        return [tuple(row[i] for i in self.positions) for row in rows]


def _rows_statement(
    systems: Systems, system: str, table_name: str, match: TableMatch, columns: Sequence[str]
) -> _RowsStatement:
    """How the rows of `columns` are read, worked out once per table, key and columns (and
    reflection: `Systems.tables` checks the schema first, `Systems.memo` forgets a stale one)."""
    tables = systems.tables(system)
    pk = match.primary_key
    table = tables[table_name]
    key = ("rows-statement", id(table), pk, tuple(columns))  # the memo holds `table`
    build = partial(_new_rows_statement, table, system, table_name, pk, columns)
    return systems.memo(key, build)


def _new_rows_statement(
    table: Table, system: str, table_name: str, pk: tuple[str, ...], columns: Sequence[str]
) -> _RowsStatement:
    wanted = list(dict.fromkeys([*pk, *columns]))
    missing = [c for c in wanted if c not in table.c]
    if missing:
        raise SystemUnavailable(system, f"the table `{table_name}` has no column `{missing[0]}`")
    # Rows come back in `wanted` order; a column that is also part of the key is read twice.
    positions = [wanted.index(c) for c in [*pk, *columns]]
    return _RowsStatement(
        cache_key=("rows", system, table_name, tuple(wanted)),
        selected=[table.c[c] for c in wanted],
        key=table.c[pk[0]] if len(pk) == 1 else tuple_(*(table.c[c] for c in pk)),
        order=[table.c[c] for c in pk],
        positions=positions,
        plain=positions == list(range(len(wanted))),
    )


def _table_batches(
    systems: Systems, system: str, table_name: str, match: TableMatch, columns: list[str]
) -> Iterator[Sequence[tuple[Any, ...]]]:
    statement = _rows_statement(systems, system, table_name, match, columns)
    kept = match.read_ahead.pop(statement.cache_key, None)
    if kept is not None:
        yield kept
        return
    try:
        with systems.connect(system) as conn:
            for chunk in chunks(match.keys):
                keys = [k[0] for k in chunk] if len(match.primary_key) == 1 else list(chunk)
                rows = _select_in(
                    conn,
                    systems,
                    statement.cache_key,
                    statement.selected,
                    statement.key,
                    keys,
                    statement.order,
                )
                yield statement.shaped(rows)
    except SQLAlchemyError as exc:
        raise SystemUnavailable(system, short_reason(exc)) from exc


def read_ahead(
    data_map: DataMap,
    systems: Systems,
    location: SubjectLocation,
    system: str,
    category_ids: Iterable[str],
    columns_of: Callable[[str, str, str, list[str]], list[str]] | None = None,
) -> None:
    """Read at once, on PostgreSQL, every table's rows of these categories in `system` that one
    statement brings (at most `CHUNK` keys): the statements go in one pipeline, the database
    working on the next while the last one's rows come back, instead of a round trip each (a
    typical person's collection is some twenty of them). `iter_category_tables` then yields
    the rows kept on the table's match, once; a bigger table is read as ever, batch by batch.
    `columns_of(category, system, table, columns)` narrows the columns as it is given to
    `iter_category_tables`. Run on the connection the collection then uses (`Systems.pinned`)."""
    if systems.engine(system).dialect.name != "postgresql":
        return
    wanted: dict[tuple[int, tuple[Any, ...]], tuple[TableMatch, _RowsStatement]] = {}
    for category_id in category_ids:
        category = data_map.categories[category_id]
        for table_system, table_name, all_columns in category_tables(data_map, category):
            match = location.match(table_system, table_name)
            if (
                table_system != system
                or match is None
                or not match.keys
                or len(match.keys) > CHUNK
                or len(match.primary_key) != 1
            ):
                continue
            columns = (
                columns_of(category_id, system, table_name, all_columns)
                if columns_of
                else all_columns
            )
            statement = _rows_statement(systems, system, table_name, match, columns)
            wanted.setdefault((id(match), statement.cache_key), (match, statement))
    if len(wanted) < 2:
        return
    try:
        with systems.connect(system) as conn:
            rows = run_pipelined(
                conn,
                [
                    (
                        keyed_sql(
                            conn,
                            systems,
                            statement.cache_key,
                            partial(_select_ordered, statement.selected, statement.order),
                            statement.key,
                        ),
                        {KEYS: [k[0] for k in match.keys]},
                    )
                    for match, statement in wanted.values()
                ],
            )
    except SQLAlchemyError as exc:
        systems.note_error(system, exc)
        raise SystemUnavailable(system, short_reason(exc)) from exc
    for (match, statement), found in zip(wanted.values(), rows, strict=True):
        match.read_ahead[statement.cache_key] = statement.shaped(found)


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
