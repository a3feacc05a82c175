"""Erase one person's data through the map: a plan staff can read, then its execution.

`plan_erasure` says, per system, table and category, which rows go, which are anonymised (with the
new value of each column) and which are kept (and why, until when), in the order they are changed:
children before parents, from the map's links and the live foreign keys. `execute_erasure` applies
the same plan, computed again inside one transaction per system: set-based statements on batches
of primary keys, all or nothing per system, and nothing more to do on a second run.

Shared rows. A row the subject's data would delete is kept while another person's row still
refers to it: a row outside the subject's location, or one of theirs that the map's `owner` says
belongs to someone else. Such a row is reported as retained ("shared"), and the rows of an owner
table that belong to the organisation (owner NULL, e.g. staff replies) follow the row they hang
from: they go with it, or stay with it. So a support thread shared by two learners keeps the
other learner's participation, messages and the staff's replies; the subject's own participation
and messages go; a thread the subject alone took part in goes whole.

Blocking. A live foreign key from a table the map does not know, pointing at a row to delete,
blocks the system (the plan names the constraint in `blocked`; execution fails, changing nothing);
so does a row the map keeps for the subject (retained or anonymised) that a foreign key ties to a
row another category deletes: the map contradicts itself there. Every foreign key of the database
counts, named or not (SQLite's have no name), and SQLite connections enforce them (see
`inventory.systems.enforce_foreign_keys`), so the database refuses whatever the plan missed.
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from graphlib import CycleError, TopologicalSorter
from typing import Any, Literal

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    CursorResult,
    Delete,
    Engine,
    Row,
    Select,
    Table,
    UniqueConstraint,
    Update,
    and_,
    bindparam,
    column,
    delete,
    exists,
    false,
    func,
    inspect,
    not_,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from inventory.locator import SubjectLocation, category_tables, locate_subject
from inventory.model import (
    Anonymize,
    AnonymizeStrategy,
    DataMap,
    ErasureAction,
    IdentityKind,
    LocalText,
)
from inventory.systems import Systems, SystemUnavailable, short_reason
from inventory.validation import link_order

Key = tuple[Any, ...]
PLACEHOLDER_DOMAIN = "erased.invalid"
PLACEHOLDER_PREFIX = "erased-"
_MIN_PLACEHOLDER_HEX = 12

SHARED_REASON = LocalText(
    fr="Partagé avec d'autres personnes : conservé tant qu'elles y prennent part ; seules vos "
    "propres données en sont retirées.",
    en="Shared with other people: kept while they take part in it; only your own data is "
    "removed from it.",
)
SHARED_UNTIL = LocalText(
    fr="Tant que d'autres personnes y prennent part",
    en="While other people take part in it",
)


class ErasurePlanError(ValueError):
    """The map asks for an anonymisation the database cannot hold (NULL in a NOT NULL column...)."""


@dataclass(frozen=True)
class PlannedStep:
    """What one category's rows of one table undergo; `order` is the table's rank in its system.

    Steps with the same `order` concern the same table and run in the same statements.
    """

    system: str
    table: str
    category: str
    action: ErasureAction
    row_count: int
    new_values: dict[str, str]
    legal_reason: LocalText | None
    until: LocalText | None
    order: int


@dataclass(frozen=True)
class ErasurePlan:
    """The steps of an erasure, and what blocks it (foreign keys the map does not know)."""

    steps: list[PlannedStep]
    blocked: list[str]

    def by_system(self) -> dict[str, list[PlannedStep]]:
        grouped: dict[str, list[PlannedStep]] = {}
        for step in self.steps:
            grouped.setdefault(step.system, []).append(step)
        return grouped


@dataclass
class SystemOutcome:
    """How the erasure went in one system; `error` names the cause without SQL or values.

    `rows_anonymized` counts the rows this run changed: a rerun finds them already anonymous.
    """

    system: str
    status: Literal["done", "failed", "skipped"]
    rows_deleted: int = 0
    rows_anonymized: int = 0
    rows_retained: int = 0
    error: str | None = None


def plan_erasure(data_map: DataMap, systems: Systems, location: SubjectLocation) -> ErasurePlan:
    """Return the erasure plan of a located subject, reading each system once, changing nothing.

    Raise `ErasurePlanError` when the map's anonymisation does not fit the schema and
    `SystemUnavailable` when a system cannot be read.
    """
    steps: list[PlannedStep] = []
    blocked: list[str] = []
    for system in data_map.systems:
        if not _has_rows(location, system):
            continue
        try:
            with systems.engine(system).connect() as conn:
                work = _plan_system(conn, data_map, systems, system, location)
        except SQLAlchemyError as exc:
            raise SystemUnavailable(system, short_reason(exc)) from exc
        steps.extend(work.steps)
        blocked.extend(work.blocked)
    return ErasurePlan(steps=steps, blocked=blocked)


def execute_erasure(
    data_map: DataMap,
    systems: Systems,
    location: SubjectLocation,
    *,
    secret_key: bytes,
    now: datetime,
    batch_size: int = 1000,
    only_systems: Collection[str] | None = None,
) -> list[SystemOutcome]:
    """Apply the plan in each system (or `only_systems`), one transaction per system.

    A system either changes as planned or not at all: any error rolls it back and its outcome is
    `failed` with a reason. Running again after success changes nothing more.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    outcomes: list[SystemOutcome] = []
    for system in data_map.systems:
        if only_systems is not None and system not in only_systems:
            outcomes.append(SystemOutcome(system, "skipped"))
            continue
        if not _has_rows(location, system):
            outcomes.append(SystemOutcome(system, "done"))
            continue
        outcomes.append(
            _execute_system(
                data_map, systems, system, location, secret_key, now, batch_size=batch_size
            )
        )
    return outcomes


def verify_erased(data_map: DataMap, systems: Systems, identity: str, value: str) -> list[str]:
    """Locate the subject again; return the `delete` categories in which rows of theirs remain."""
    location = locate_subject(data_map, systems, identity, value)
    remaining = []
    for category_id, category in data_map.categories.items():
        if category.erasure.action is not ErasureAction.DELETE:
            continue
        for system, table_name, _ in category_tables(data_map, category):
            match = location.match(system, table_name)
            if match is not None and any(k not in match.not_owned for k in match.keys):
                remaining.append(category_id)
                break
    return remaining


# --- planning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reference:
    """Rows of `child` whose `child_columns` hold values of `parent_columns` of `parent` rows."""

    child: str
    child_columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    constraint: str | None = None
    located_children: bool = False  # the locator found every referring row (a map link)
    enforced: bool = False  # a foreign key of the database (SQLite's have no name)

    def describe(self) -> str:
        name = f"`{self.constraint}`" if self.constraint else "without a name"
        return (
            f"foreign key {name} from `{self.child}`({', '.join(self.child_columns)}) to "
            f"`{self.parent}`({', '.join(self.parent_columns)})"
        )


@dataclass
class _ColumnRule:
    name: str
    rule: Anonymize
    email: bool
    length: int | None


@dataclass
class _TableWork:
    """What happens to one table's rows: keys to delete, to anonymise, to keep."""

    name: str
    primary_key: tuple[str, ...]
    action: ErasureAction | None
    categories: list[str]
    delete: dict[Key, None] = field(default_factory=dict)
    anonymize: list[Key] = field(default_factory=list)
    retain: list[Key] = field(default_factory=list)
    shared: dict[Key, None] = field(default_factory=dict)
    rules: list[_ColumnRule] = field(default_factory=list)
    restriction: dict[str, Any] = field(default_factory=dict)  # column -> value or _NOW
    order: int = 0


@dataclass
class _SystemWork:
    system: str
    tables: list[_TableWork]
    steps: list[PlannedStep]
    blocked: list[str]


class _Now:
    """Stands for "the time of the erasure" in a restriction column."""


_NOW = _Now()


def _has_rows(location: SubjectLocation, system: str) -> bool:
    return any(m.keys for (s, _), m in location.tables.items() if s == system)


@dataclass(frozen=True)
class _TableLayout:
    """What the map and the schema say of one table, whoever the subject is."""

    name: str
    primary_key: tuple[str, ...]
    action: ErasureAction | None
    categories: list[str]
    rules: list[_ColumnRule]
    restriction: dict[str, Any]


@dataclass(frozen=True)
class _SystemLayout:
    tables: list[_TableLayout]
    references: list[_Reference]
    order: list[str]
    foreign_keys: list[_Reference]  # the reflection it was made from (see `forget_schema`)


def _layout(conn: Connection, data_map: DataMap, systems: Systems, system: str) -> _SystemLayout:
    """Return the system's layout, worked out once per `Systems` and schema reflection."""
    key = ("erasure-layout", system)
    layout = systems.memo(key, lambda: _make_layout(conn, data_map, systems, system))
    if layout.foreign_keys is not _foreign_keys(conn):  # the schema was reflected again
        systems.forget(key)
        layout = systems.memo(key, lambda: _make_layout(conn, data_map, systems, system))
    return layout


def _make_layout(
    conn: Connection, data_map: DataMap, systems: Systems, system: str
) -> _SystemLayout:
    tables = systems.tables(system)
    spec = data_map.systems[system]
    by_table: dict[str, dict[str, None]] = {}
    for category_id, category in data_map.categories.items():
        for f in category.fields_in(system):
            by_table.setdefault(f.table, {})[category_id] = None
    layouts = []
    for name, table_spec in spec.tables.items():
        categories = list(by_table.get(name, {}))
        actions = {data_map.categories[c].erasure.action for c in categories}
        action = next(
            (a for a in (ErasureAction.RETAIN, ErasureAction.ANONYMIZE) if a in actions),
            ErasureAction.DELETE if actions else None,
        )
        rules = (
            _column_rules(data_map, system, name, categories, tables[name])
            if action is ErasureAction.ANONYMIZE
            else []
        )
        restriction = (
            _restriction(data_map, system, name, tables[name])
            if action is ErasureAction.RETAIN
            else {}
        )
        layouts.append(
            _TableLayout(
                name, tuple(table_spec.primary_key), action, categories, rules, restriction
            )
        )
    foreign_keys = _foreign_keys(conn)
    references = _references(data_map, system, conn)
    order = _execution_order(data_map, system, references)
    return _SystemLayout(layouts, references, order, foreign_keys)


def _plan_system(
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    system: str,
    location: SubjectLocation,
) -> _SystemWork:
    tables = systems.tables(system)
    layout = _layout(conn, data_map, systems, system)
    works: dict[str, _TableWork] = {}
    for table_layout in layout.tables:
        name, action = table_layout.name, table_layout.action
        work = _TableWork(name, table_layout.primary_key, action, table_layout.categories)
        match = location.match(system, name)
        owned = [k for k in match.keys if k not in match.not_owned] if match else []
        if action is ErasureAction.DELETE:
            work.delete = dict.fromkeys(owned)
        elif action is ErasureAction.ANONYMIZE:
            work.anonymize = owned
            work.rules = table_layout.rules
        elif action is ErasureAction.RETAIN:
            work.retain = owned
            work.restriction = table_layout.restriction
        works[name] = work

    blocked = _resolve_sharing(
        conn, data_map, systems, system, location, tables, works, layout.references
    )
    for position, name in enumerate(layout.order, start=1):
        works[name].order = position
    ordered = [works[name] for name in layout.order]
    return _SystemWork(system, ordered, _steps(data_map, system, ordered), blocked)


def _column_rules(
    data_map: DataMap, system: str, name: str, categories: list[str], table: Table
) -> list[_ColumnRule]:
    """Check each anonymised column against the live schema; refuse what it cannot hold."""
    emails = {
        loc.column
        for identity in data_map.identities.values()
        if identity.kind is IdentityKind.EMAIL
        for loc in identity.locations.get(system, [])
    }
    unique = _unique_columns(table)
    rules = []
    for category_id in categories:
        for f in data_map.categories[category_id].fields_in(system):
            if f.table != name or f.anonymize is None:
                continue
            if f.name not in table.c:
                raise ErasurePlanError(f"column `{f.column}` is not in the database of `{system}`")
            col = table.c[f.name]
            rule = _ColumnRule(f.name, f.anonymize, f.column in emails, _length(col))
            _check_rule(system, f.column, col, rule, f.name in unique)
            rules.append(rule)
    return rules


def _check_rule(system: str, ref: str, col: Column[Any], rule: _ColumnRule, unique: bool) -> None:
    strategy = rule.rule.strategy
    where = f"column `{ref}` of `{system}`"
    kind = _python_type(col)
    if strategy is AnonymizeStrategy.NULL and not col.nullable:
        raise ErasurePlanError(
            f"{where} is NOT NULL, but the map anonymises it with `null`: choose `fixed` or "
            "`unique_placeholder`"
        )
    if strategy in (AnonymizeStrategy.FIXED, AnonymizeStrategy.TRUNCATE) and unique:
        raise ErasurePlanError(
            f"{where} is UNIQUE: `{strategy.value}` would give several people the same value; "
            "choose `unique_placeholder` or `keyed_hash`"
        )
    if strategy is AnonymizeStrategy.YEAR_ONLY and unique:
        raise ErasurePlanError(f"{where} is UNIQUE: `year_only` would make values collide")
    if strategy is AnonymizeStrategy.YEAR_ONLY and not issubclass(kind, date):
        raise ErasurePlanError(f"{where} holds no date: `year_only` applies to dates")
    textual = (
        AnonymizeStrategy.KEYED_HASH,
        AnonymizeStrategy.TRUNCATE,
        AnonymizeStrategy.UNIQUE_PLACEHOLDER,
    )
    if strategy in textual and kind is not str:
        raise ErasurePlanError(f"{where} holds no text: `{strategy.value}` writes text")
    if strategy is AnonymizeStrategy.UNIQUE_PLACEHOLDER:
        room = _placeholder_room(rule)
        if room < _MIN_PLACEHOLDER_HEX:
            raise ErasurePlanError(f"{where} is too short to hold a unique placeholder")
    if strategy is AnonymizeStrategy.FIXED:
        try:
            value = _coerce(rule.rule.value, kind)
        except ValueError as exc:
            raise ErasurePlanError(f"{where}: the fixed value does not fit ({exc})") from exc
        if isinstance(value, str) and rule.length is not None and len(value) > rule.length:
            raise ErasurePlanError(f"{where}: the fixed value is longer than the column")


def _restriction(data_map: DataMap, system: str, name: str, table: Table) -> dict[str, Any]:
    """Return the columns the map's `restriction` sets on this table, if it declares any."""
    change = data_map.changes.restriction
    if change is None:
        return {}
    found: dict[str, Any] = {}
    for col in change.set:
        if col.system == system and col.table == name and col.name in table.c:
            value = _NOW if col.now else _coerce(col.value, _python_type(table.c[col.name]))
            found[col.name] = value
    return found


def _references(data_map: DataMap, system: str, conn: Connection) -> list[_Reference]:
    """Return the map's links and the live foreign keys, each as child -> parent."""
    spec = data_map.systems[system].tables
    refs: dict[tuple[str, tuple[str, ...], str, tuple[str, ...]], _Reference] = {}
    for name, table_spec in spec.items():
        for link in table_spec.links:
            if spec[link.target_table].primary_key == [link.target_column]:
                ref = _Reference(
                    name, (link.column,), link.target_table, (link.target_column,), None, True
                )
            else:  # the link reaches a parent through the subject's child rows
                ref = _Reference(link.target_table, (link.target_column,), name, (link.column,))
            refs[(ref.child, ref.child_columns, ref.parent, ref.parent_columns)] = ref
        if table_spec.owner is not None:
            owner = table_spec.owner
            ref = _Reference(name, (owner.column,), owner.target_table, (owner.target_column,))
            refs.setdefault((ref.child, ref.child_columns, ref.parent, ref.parent_columns), ref)
    for fk in _foreign_keys(conn):
        if fk.parent not in spec:
            continue
        key = (fk.child, fk.child_columns, fk.parent, fk.parent_columns)
        known = refs.get(key)
        refs[key] = (
            _Reference(*key, fk.constraint, known.located_children, enforced=True)
            if known is not None
            else fk
        )
    return list(refs.values())


_FK_CACHE: weakref.WeakKeyDictionary[Engine, list[_Reference]] = weakref.WeakKeyDictionary()


def _foreign_keys(conn: Connection) -> list[_Reference]:
    """Reflect every foreign key of the database once per engine (a schema seldom changes)."""
    cached = _FK_CACHE.get(conn.engine)
    if cached is not None:
        return cached
    found: list[_Reference] = []
    for (_, child), fks in sorted(inspect(conn).get_multi_foreign_keys().items()):
        for fk in fks:
            name = fk.get("name")
            found.append(
                _Reference(
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


def _resolve_sharing(
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    system: str,
    location: SubjectLocation,
    tables: dict[str, Table],
    works: dict[str, _TableWork],
    references: list[_Reference],
) -> list[str]:
    """Keep rows others still refer to; return what blocks the deletion."""
    spec = data_map.systems[system].tables
    followers = _organisation_rows(conn, data_map, systems, system, location, tables, works)
    own: dict[str, set[Key]] = {}
    for name in spec:
        match = location.match(system, name)
        own[name] = set(match.keys) - match.not_owned if match else set()
    blocked: dict[str, None] = {}
    changed = True
    while changed:
        changed = False
        for ref in references:
            parent = works.get(ref.parent)
            if parent is None or not parent.delete:
                continue
            if ref.child not in spec:
                if _unknown_children(conn, systems, system, tables[ref.parent], parent, ref):
                    blocked[
                        f"table `{ref.child}`, which the map does not know, refers to rows of "
                        f"`{ref.parent}` that the erasure deletes ({ref.describe()})"
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
            for parent_key, child_key in _referring_rows(
                conn,
                systems,
                system,
                tables[ref.parent],
                tables[ref.child],
                parent,
                child,
                ref,
                candidates,
            ):
                if child_key in child.delete:
                    continue
                if child_key in own[ref.child] and child_key not in child.shared:
                    # The subject's own row, kept by the map (retained or anonymised).
                    if ref.enforced:
                        blocked[
                            f"rows of `{ref.child}` kept for the subject refer to rows of "
                            f"`{ref.parent}` that the erasure deletes ({ref.describe()}): the "
                            "map contradicts itself"
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
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    system: str,
    location: SubjectLocation,
    tables: dict[str, Table],
    works: dict[str, _TableWork],
) -> dict[str, dict[Key, list[tuple[str, Key]]]]:
    """Return, per owner table, its rows without an owner and the rows they hang from."""
    spec = data_map.systems[system].tables
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
        table = tables[name]
        columns = [table.c[c] for c in dict.fromkeys([*work.primary_key, table_spec.owner.column])]
        columns += [table.c[link.column] for link in links]
        rows: dict[Key, list[tuple[str, Key]]] = {}
        keyed = _Keyed(conn, systems, system, table, work.primary_key)
        for chunk in _chunks(list(work.delete)):
            found_rows = keyed.rows(
                "organisation-rows",
                partial(_select_where, columns),
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


def _parent_values(
    conn: Connection,
    systems: Systems,
    system: str,
    parent_table: Table,
    parent: _TableWork,
    ref: _Reference,
) -> dict[Key, list[Key]]:
    """Return, for the parent rows to delete, value of the referred columns -> their keys."""
    keys = list(parent.delete)
    if ref.parent_columns == parent.primary_key:
        return {k: [k] for k in keys}
    values: dict[Key, list[Key]] = {}
    cols = [parent_table.c[c] for c in dict.fromkeys([*parent.primary_key, *ref.parent_columns])]
    keyed = _Keyed(conn, systems, system, parent_table, parent.primary_key)
    for chunk in _chunks(keys):
        found_rows = keyed.rows(
            ("parent-values", ref.parent_columns),
            lambda where: select(*cols).where(where),
            chunk,
        )
        for row in found_rows:
            mapping = row._mapping
            value = tuple(mapping[c] for c in ref.parent_columns)
            if None not in value:
                values.setdefault(value, []).append(tuple(mapping[c] for c in parent.primary_key))
    return values


def _referring_rows(
    conn: Connection,
    systems: Systems,
    system: str,
    parent_table: Table,
    child_table: Table,
    parent: _TableWork,
    child: _TableWork,
    ref: _Reference,
    candidates: list[Key] | None,
) -> Iterator[tuple[Key, Key]]:
    """Yield (parent key, child key) for child rows that refer to parent rows to delete.

    With `candidates` (the located child rows, which hold every referring row) the candidates are
    read and matched here; otherwise the child table is searched by its referring columns.
    """
    values = _parent_values(conn, systems, system, parent_table, parent, ref)
    cols = [child_table.c[c] for c in dict.fromkeys([*child.primary_key, *ref.child_columns])]
    kind = ("referring-rows", ref.child_columns)
    if candidates is not None:
        keyed = _Keyed(conn, systems, system, child_table, child.primary_key)
        batches: Iterator[Sequence[Key]] = _chunks(candidates)
    else:
        keyed = _Keyed(conn, systems, system, child_table, ref.child_columns)
        batches = _chunks(list(values))
    for chunk in batches:
        for row in keyed.rows(kind, lambda where: select(*cols).where(where), chunk):
            mapping = row._mapping
            child_key = tuple(mapping[c] for c in child.primary_key)
            for parent_key in values.get(tuple(mapping[c] for c in ref.child_columns), []):
                yield parent_key, child_key


def _unknown_children(
    conn: Connection,
    systems: Systems,
    system: str,
    parent_table: Table,
    parent: _TableWork,
    ref: _Reference,
) -> bool:
    """Tell whether a table the map does not know refers to any of the rows to delete."""
    values = _parent_values(conn, systems, system, parent_table, parent, ref)
    child = table(ref.child, *(column(c) for c in ref.child_columns))
    for chunk in _chunks(list(values)):
        predicate = _key_in(child, ref.child_columns, chunk)
        if conn.execute(select(exists().where(predicate))).scalar():
            return True
    return False


def _execution_order(data_map: DataMap, system: str, references: list[_Reference]) -> list[str]:
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


def _steps(data_map: DataMap, system: str, works: list[_TableWork]) -> list[PlannedStep]:
    steps: list[PlannedStep] = []
    for work in works:
        for category_id in work.categories:
            category = data_map.categories[category_id]
            erasure = category.erasure

            def step(
                action: ErasureAction,
                count: int,
                new_values: dict[str, str],
                reason: LocalText | None = None,
                until: LocalText | None = None,
                category_id: str = category_id,
                order: int = work.order,
                table_name: str = work.name,
            ) -> PlannedStep:
                return PlannedStep(
                    system, table_name, category_id, action, count, new_values, reason, until, order
                )

            if work.action is ErasureAction.DELETE:
                if work.delete:
                    steps.append(step(ErasureAction.DELETE, len(work.delete), {}))
                if work.shared:
                    steps.append(
                        step(
                            ErasureAction.RETAIN, len(work.shared), {}, SHARED_REASON, SHARED_UNTIL
                        )
                    )
            elif work.action is ErasureAction.ANONYMIZE and work.anonymize:
                described = {
                    f.name: _describe(f.anonymize)
                    for f in category.fields_in(system)
                    if f.table == work.name and f.anonymize is not None
                }
                steps.append(step(ErasureAction.ANONYMIZE, len(work.anonymize), described))
            elif work.action is ErasureAction.RETAIN and work.retain:
                restricted = {c: _describe_value(v) for c, v in work.restriction.items()}
                steps.append(
                    step(
                        ErasureAction.RETAIN,
                        len(work.retain),
                        restricted,
                        erasure.legal_reason,
                        erasure.until,
                    )
                )
    return steps


def _describe(rule: Anonymize) -> str:
    strategy = rule.strategy
    if strategy is AnonymizeStrategy.FIXED:
        return f"fixed: {_describe_value(rule.value)}"
    if strategy is AnonymizeStrategy.TRUNCATE:
        return f"first {rule.length} characters"
    return {
        AnonymizeStrategy.KEEP: "kept as is",
        AnonymizeStrategy.NULL: "NULL",
        AnonymizeStrategy.KEYED_HASH: "keyed hash (pseudonymisation)",
        AnonymizeStrategy.YEAR_ONLY: "year only",
        AnonymizeStrategy.UNIQUE_PLACEHOLDER: "unique placeholder",
    }[strategy]


def _describe_value(value: object) -> str:
    if value is _NOW:
        return "time of the erasure"
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- execution --------------------------------------------------------------------------------


class _Blocked(Exception):
    pass


def _execute_system(
    data_map: DataMap,
    systems: Systems,
    system: str,
    location: SubjectLocation,
    secret_key: bytes,
    now: datetime,
    *,
    batch_size: int,
) -> SystemOutcome:
    outcome = SystemOutcome(system, "done")
    current = "planning"
    try:
        tables = systems.tables(system)
        with systems.engine(system).connect() as conn, conn.begin():
            work = _plan_system(conn, data_map, systems, system, location)
            if work.blocked:
                raise _Blocked("; ".join(work.blocked))
            for table_work in work.tables:
                current = table_work.name
                _apply(
                    conn,
                    systems,
                    tables[table_work.name],
                    table_work,
                    outcome,
                    secret_key,
                    now,
                    system,
                    batch_size,
                )
    except _Blocked as exc:
        return SystemOutcome(system, "failed", error=f"erasure blocked: {exc}")
    except (ErasurePlanError, SystemUnavailable) as exc:
        return SystemOutcome(system, "failed", error=str(exc))
    except SQLAlchemyError as exc:
        return SystemOutcome(system, "failed", error=_reason(exc, current))
    return outcome


def _reason(exc: SQLAlchemyError, table_name: str) -> str:
    """Say why a system failed without the SQL or the values (the database's text has both)."""
    where = "while planning" if table_name == "planning" else f"while changing `{table_name}`"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return f"the connection to the database was lost {where}; nothing was changed"
    if isinstance(exc, IntegrityError):
        return f"a constraint of the database refused the change {where}; nothing was changed"
    kind = type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
    return f"the database failed ({kind}) {where}; nothing was changed"


def _apply(
    conn: Connection,
    systems: Systems,
    table: Table,
    work: _TableWork,
    outcome: SystemOutcome,
    secret_key: bytes,
    now: datetime,
    system: str,
    batch_size: int,
) -> None:
    pk = work.primary_key
    keyed = _Keyed(conn, systems, system, table, pk)
    for chunk in _chunks(list(work.delete), batch_size):
        outcome.rows_deleted += keyed.run("delete", lambda where: delete(table).where(where), chunk)
    if work.anonymize and work.rules:
        outcome.rows_anonymized += _anonymize(keyed, work, secret_key, system, batch_size)
    outcome.rows_retained += len(work.retain) + len(work.shared)
    if work.retain and work.restriction:
        names = list(work.restriction)
        values = {
            f"erasure_value_{i}": now if work.restriction[c] is _NOW else work.restriction[c]
            for i, c in enumerate(names)
        }

        def restrict(where: ColumnElement[bool]) -> _Statement:
            done = and_(
                *(
                    table.c[c].is_not(None)
                    if work.restriction[c] is _NOW
                    else table.c[c].is_not_distinct_from(
                        bindparam(f"erasure_value_{i}", type_=table.c[c].type)
                    )
                    for i, c in enumerate(names)
                )
            )
            return (
                update(table)
                .where(where, not_(done))
                .values(
                    {
                        c: bindparam(f"erasure_value_{i}", type_=table.c[c].type)
                        for i, c in enumerate(names)
                    }
                )
            )

        for chunk in _chunks(work.retain, batch_size):
            keyed.run(("restrict", tuple(names)), restrict, chunk, values)


_Statement = Delete | Update | Select[Any]


def _select_where(columns: Sequence[Column[Any]], where: ColumnElement[bool]) -> Select[Any]:
    return select(*columns).where(where)


class _Keyed:
    """Runs `statement WHERE primary key IN (a batch of keys)` on one table, built once.

    On PostgreSQL a single-column key goes as one array, `key = ANY(%(erasure_keys)s)`, in SQL
    rendered once per map and table and sent as driver SQL: no statement is compiled or expanded
    per batch (that was most of a typical erasure's time, more than the database's own work).
    Elsewhere the statement is built once with an expanding parameter; composite keys use a tuple
    comparison built per batch.
    """

    def __init__(
        self,
        conn: Connection,
        systems: Systems,
        system: str,
        table: Table,
        pk: tuple[str, ...],
    ) -> None:
        self.conn, self.systems, self.table, self.pk = conn, systems, table, pk
        self.cache = ("erasure", system, table.name, pk)

    def run(
        self,
        kind: Hashable,
        build: Callable[[ColumnElement[bool]], _Statement],
        keys: Sequence[Key],
        params: dict[str, Any] | None = None,
    ) -> int:
        result = self._execute(kind, build, keys, params or {})
        return int(result.rowcount)

    def rows(
        self,
        kind: Hashable,
        build: Callable[[ColumnElement[bool]], _Statement],
        keys: Sequence[Key],
    ) -> Sequence[Row[Any]]:
        return self._execute(kind, build, keys, {}).fetchall()

    def _execute(
        self,
        kind: Hashable,
        build: Callable[[ColumnElement[bool]], _Statement],
        keys: Sequence[Key],
        params: dict[str, Any],
    ) -> CursorResult[Any]:
        if not keys:
            return self.conn.execute(build(false()), params)
        if len(self.pk) > 1:
            return self.conn.execute(build(_key_in(self.table, self.pk, keys)), params)
        column_ = self.table.c[self.pk[0]]
        values = {"erasure_keys": [k[0] for k in keys], **params}
        dialect = self.conn.dialect
        if dialect.name == "postgresql":

            def render() -> str:
                any_key = column_ == func.any(bindparam("erasure_keys"))
                return str(build(any_key).compile(dialect=dialect))

            sql = self.systems.driver_sql((*self.cache, kind, "any"), render)
            return self.conn.exec_driver_sql(sql, values)

        def expanding() -> _Statement:
            return build(column_.in_(bindparam("erasure_keys", expanding=True)))

        statement = self.systems.statement((*self.cache, kind), expanding)
        return self.conn.execute(statement, values)


def _anonymize(
    keyed: _Keyed,
    work: _TableWork,
    secret_key: bytes,
    system: str,
    batch_size: int,
) -> int:
    """Anonymise the rows; return how many changed (already anonymised rows are left as they are).

    Constant values go in one UPDATE per batch; values computed per row (placeholders, hashes,
    dates) in one executemany per batch. A row whose every checkable column already holds its
    anonymous value is taken as done, so that a keyed hash is not hashed twice; a table whose only
    changed columns are keyed hashes cannot be checked and is hashed again by a rerun.
    """
    table, conn, pk = keyed.table, keyed.conn, work.primary_key
    rules = [r for r in work.rules if r.rule.strategy is not AnonymizeStrategy.KEEP]
    if not rules:
        return 0
    constant = {
        r.name: _constant(r, table.c[r.name])
        for r in rules
        if r.rule.strategy in (AnonymizeStrategy.NULL, AnonymizeStrategy.FIXED)
    }
    per_row = [r for r in rules if r.name not in constant]
    changed = 0
    if not per_row:
        names = list(constant)
        values = {f"erasure_value_{i}": constant[c] for i, c in enumerate(names)}

        def blank(where: ColumnElement[bool]) -> _Statement:
            params = {
                c: bindparam(f"erasure_value_{i}", type_=table.c[c].type)
                for i, c in enumerate(names)
            }
            done = and_(*(table.c[c].is_not_distinct_from(p) for c, p in params.items()))
            return update(table).where(where, not_(done)).values(params)

        for chunk in _chunks(work.anonymize, batch_size):
            changed += keyed.run(("anonymize-constant", tuple(names)), blank, chunk, values)
        return changed
    key_params = {c: f"erasure_key_{i}" for i, c in enumerate(pk)}
    value_params = {r.name: f"erasure_value_{i}" for i, r in enumerate(rules)}

    def by_key() -> Update:
        return (
            update(table)
            .where(*(table.c[c] == bindparam(p) for c, p in key_params.items()))
            .values({c: bindparam(p) for c, p in value_params.items()})
        )

    stmt = keyed.systems.statement((*keyed.cache, "anonymize-rows", tuple(value_params)), by_key)
    cols = [table.c[c] for c in dict.fromkeys([*pk, *(r.name for r in rules)])]
    checkable = [r.name for r in rules if r.rule.strategy is not AnonymizeStrategy.KEYED_HASH]
    for chunk in _chunks(work.anonymize, batch_size):
        params: list[dict[str, Any]] = []
        current = keyed.rows(
            ("anonymize-read", tuple(c.name for c in cols)),
            partial(_select_where, cols),
            chunk,
        )
        for row in current:
            mapping = row._mapping
            key = tuple(mapping[c] for c in pk)
            new = dict(constant)
            for r in per_row:
                new[r.name] = _per_row_value(r, mapping[r.name], key, secret_key, system, table)
            if checkable and all(_same(mapping[c], new[c]) for c in checkable):
                continue
            param = {key_params[c]: mapping[c] for c in pk}
            param.update({value_params[c]: v for c, v in new.items()})
            params.append(param)
        if len(params) == 1:
            conn.execute(stmt, params[0])
        elif params:
            conn.execute(stmt, params)
        changed += len(params)
    return changed


def _same(current: object, new: object) -> bool:
    if (
        isinstance(current, datetime)
        and isinstance(new, datetime)
        and (current.tzinfo is None) != (new.tzinfo is None)
    ):
        return current.replace(tzinfo=None) == new.replace(tzinfo=None)
    return current == new


def _constant(rule: _ColumnRule, col: Column[Any]) -> Any:
    if rule.rule.strategy is AnonymizeStrategy.NULL:
        return None
    return _coerce(rule.rule.value, _python_type(col))


def _per_row_value(
    rule: _ColumnRule, value: Any, key: Key, secret_key: bytes, system: str, table: Table
) -> Any:
    strategy = rule.rule.strategy
    if strategy is AnonymizeStrategy.YEAR_ONLY:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return date(value.year, 1, 1)
    if strategy is AnonymizeStrategy.TRUNCATE:
        return None if value is None else str(value)[: rule.rule.length]
    if strategy is AnonymizeStrategy.KEYED_HASH:
        if value is None:
            return None
        digest = hmac.new(secret_key, str(value).encode(), hashlib.sha256).hexdigest()
        return digest[: rule.length] if rule.length is not None else digest
    # unique placeholder: a keyed hash of the row's place, so that every row gets its own
    subject = f"{system}.{table.name}.{rule.name}:{key!r}".encode()
    digest = hmac.new(secret_key, subject, hashlib.sha256).hexdigest()
    room = _placeholder_room(rule)
    tail = f"@{PLACEHOLDER_DOMAIN}" if rule.email else ""
    return f"{PLACEHOLDER_PREFIX}{digest[: min(room, 32)]}{tail}"


def _placeholder_room(rule: _ColumnRule) -> int:
    """Return how many hex characters of a placeholder the column can hold."""
    fixed = len(PLACEHOLDER_PREFIX) + (len(PLACEHOLDER_DOMAIN) + 1 if rule.email else 0)
    return 64 if rule.length is None else rule.length - fixed


# --- small helpers ----------------------------------------------------------------------------


def _python_type(col: Column[Any]) -> type:
    try:
        kind: type = col.type.python_type
    except NotImplementedError:
        return str
    return kind


def _length(col: Column[Any]) -> int | None:
    length = getattr(col.type, "length", None)
    return length if isinstance(length, int) else None


def _coerce(value: object, kind: type) -> Any:
    """Turn a value written in the map into the column's type (`false` for a boolean...)."""
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, str):
            if value.lower() not in ("true", "false"):
                raise ValueError(f"'{value}' is not true or false")
            return value.lower() == "true"
        return bool(value)
    if kind is int:
        if isinstance(value, bool):
            return int(value)
        return int(str(value))
    if kind is str:
        return _describe_value(value) if isinstance(value, bool) else str(value)
    if issubclass(kind, datetime):
        return datetime.fromisoformat(str(value))
    if issubclass(kind, date):
        return date.fromisoformat(str(value))
    return value


def _unique_columns(table: Table) -> set[str]:
    """Return the columns that are unique on their own (constraint or unique index)."""
    found: set[str] = set()
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) == 1:
            found.update(c.name for c in constraint.columns)
    for index in table.indexes:
        if index.unique and len(index.expressions) == 1:
            found.update(c.name for c in index.columns)
    if len(table.primary_key.columns) == 1:
        found.update(c.name for c in table.primary_key.columns)
    return found


def _key_in(table_: Any, columns: Sequence[str], keys: Sequence[Key]) -> ColumnElement[bool]:
    """Return `columns IN keys` (a tuple comparison for composite keys)."""
    if not keys:
        return false()
    if len(columns) == 1:
        return table_.c[columns[0]].in_([k[0] for k in keys])  # type: ignore[no-any-return]
    return tuple_(*(table_.c[c] for c in columns)).in_(list(keys))


def _chunks(values: Sequence[Any], size: int = 1000) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
