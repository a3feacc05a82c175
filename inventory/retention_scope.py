"""Where one category's retention sweep lies, and which of its rows it takes, as SQL.

A category's retention runs from a date column of its *main table*, or, where that date is NULL,
from its `fallback` columns in order (of the same table, or of the parent row the main table
refers to): the row's *start*. The category's tables that hang from the main table (a reference
towards it) are its followers, changed with their parent row. A row is taken when its start plus
the period is before the cutoff (`expired`), the sweep has not changed it yet (`pending`), and no
row kept by another sweep refers to it (`SweepScope.free`; `blocking` says which references keep
it). Every condition is a SQL expression, so that counting and sweeping read the same rows in the
database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Table,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
    true,
    tuple_,
)

from inventory.anonymisation import (
    PLACEHOLDER_PREFIX,
    ColumnRule,
    column_rules,
    constant_value,
    python_type,
)
from inventory.keyed import Key
from inventory.model import AnonymizeStrategy, Category, DataMap, ErasureAction
from inventory.periods import retention_cutoff, start_boundary
from inventory.references import Reference, system_references
from inventory.systems import Systems


class RetentionMapError(ValueError):
    """The map's retention does not fit the live schema (it runs from a column without dates)."""


@dataclass
class FollowerPath:
    """How a follower table reaches the main table: its reference, then its parent's path."""

    table: str
    ref: Reference
    parent: FollowerPath | None


@dataclass
class _Shape:
    """Where one category's sweep lies: its main table, date, cutoff, followers and blockers."""

    category: str
    action: ErasureAction
    main: str
    pk: tuple[str, ...]
    date_column: str
    cutoff: datetime | date
    cutoff_instant: datetime
    followers: list[FollowerPath]
    blockers: list[Reference]
    not_swept: list[str]
    start_of: Callable[[FromClause], ColumnElement[Any]]


@dataclass
class SweepContext:
    """What every category of one system shares at one instant; `gated` categories' rows are
    counted as kept by the other categories (their gate is not known in SQL)."""

    data_map: DataMap
    systems: Systems
    system: str
    tables: dict[str, Table]
    references: list[Reference]
    now: datetime
    gated: frozenset[str]
    shapes: dict[str, _Shape] = field(default_factory=dict)

    def shape(self, category_id: str) -> _Shape:
        """Return the category's shape, worked out once per context."""
        if category_id not in self.shapes:
            self.shapes[category_id] = _shape(self, category_id)
        return self.shapes[category_id]


@dataclass
class SweepScope:
    """One category's sweep in one system: its main table and date, its cutoff (in the date
    column's type, and as an instant), its followers, its column rules, `start` (the date the
    period runs from, with its fallbacks) and `free`, the condition of the main table's rows that
    no kept row refers to. `restriction` is always empty: a period ends in deletion or
    anonymisation."""

    systems: Systems
    system: str
    category: str
    spec: Category
    table: Table
    tables: dict[str, Table]
    pk: tuple[str, ...]
    date_column: str
    action: ErasureAction
    cutoff: datetime | date
    cutoff_instant: datetime
    followers: list[FollowerPath]
    not_swept: list[str]
    rules: list[ColumnRule]
    restriction: dict[str, Any]
    free: ColumnElement[bool]
    start: ColumnElement[Any]
    blocking: list[tuple[Reference, ColumnElement[bool]]]


def sweep_context(
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    system: str,
    now: datetime,
    gated: frozenset[str],
) -> SweepContext:
    """Return what the sweeps of `system` share at `now` (its tables and references)."""
    references = system_references(data_map, system, conn)
    return SweepContext(data_map, systems, system, systems.tables(system), references, now, gated)


def stored_cutoff(instant: datetime, column_type: Any, zone: tzinfo, kind: type) -> datetime | date:
    """Return `instant` as the column stores its values, so that SQL compares like with like: a
    date column gets the day on the system's calendar, a timestamp without a zone the wall time
    in the zone the map gives for the system (R48), a timestamp with a zone the instant itself."""
    if not issubclass(kind, datetime):
        return instant.astimezone(zone).date()
    if getattr(column_type, "timezone", False):
        return instant
    return instant.astimezone(zone).replace(tzinfo=None)


def _shape(ctx: SweepContext, category_id: str) -> _Shape:
    category = ctx.data_map.categories[category_id]
    main, date_column = category.retention.from_.split(".", 1)
    table = ctx.tables[main]
    pk = tuple(ctx.data_map.systems[ctx.system].tables[main].primary_key)
    try:
        boundary = start_boundary(category.retention, ctx.data_map.organisation, ctx.now)
    except ValueError as error:
        raise RetentionMapError(f"category `{category_id}`: {error}") from None
    instant = boundary or retention_cutoff(category.retention.period, ctx.now)
    kind = python_type(table.c[date_column])
    if not issubclass(kind, date):
        raise RetentionMapError(
            f"the retention of category `{category_id}` runs from `{main}.{date_column}`, which "
            f"holds {table.c[date_column].type} in `{ctx.system}`, not a date or timestamp: "
            "point `retention.from` at a date or timestamp column (`dsr map check --live` "
            "lists such problems)"
        )
    start_of = _start(ctx, category_id, main, date_column, kind)
    # A year's close is a boundary between days as the system writes them (the certificate's
    # last days are those days: `inventory.periods`); a period from the row's own time ends at
    # an instant, which a zoneless column holds as a wall time of the system's zone.
    zone = UTC if boundary is not None else ctx.data_map.system_zone(ctx.system)
    cutoff = stored_cutoff(instant, table.c[date_column].type, zone, kind)
    own_tables = list(dict.fromkeys(f.table for f in category.fields_in(ctx.system)))
    action = category.end_action
    if action is ErasureAction.RETAIN:
        raise RetentionMapError(
            f"category `{category_id}` retains its data on erasure, but its retention does not "
            "say what happens when the period ends: add `at_end: delete` or `at_end: anonymize`"
        )
    followers = (
        [] if action is ErasureAction.ANONYMIZE else _followers(main, own_tables, ctx.references)
    )
    swept = {main, *(p.table for p in followers)}
    blockers = [
        ref
        for ref in ctx.references
        if ref.child not in swept and ref.parent in swept and ref.child != ref.parent
    ]
    not_swept = [t for t in own_tables if t not in swept]
    return _Shape(
        category_id,
        action,
        main,
        pk,
        date_column,
        cutoff,
        instant,
        followers,
        blockers,
        not_swept,
        start_of,
    )


def _start(
    ctx: SweepContext, category_id: str, main: str, date_column: str, kind: type
) -> Callable[[FromClause], ColumnElement[Any]]:
    """Return how to read a row's start from a table standing for `main`: the `from` column,
    else the first fallback set, each of the same table or of the row's parent."""
    fallbacks = ctx.data_map.categories[category_id].retention.fallback
    parts = [_own_start(date_column)]
    for fallback in fallbacks:
        table_name, column = fallback.split(".", 1)
        source = ctx.tables.get(table_name)
        if source is None or column not in source.c:
            raise RetentionMapError(
                f"the retention of category `{category_id}` falls back on `{fallback}`, which "
                f"is not in `{ctx.system}`"
            )
        if python_type(source.c[column]) is not kind:
            raise RetentionMapError(
                f"the retention of category `{category_id}` falls back on `{fallback}`, which "
                f"holds {source.c[column].type}, not the kind of `{main}.{date_column}`: a "
                "fallback holds dates as the `from` column does"
            )
        if table_name == main:
            parts.append(_own_start(column))
            continue
        ref = parent_reference(ctx.references, main, table_name)
        if ref is None:
            raise RetentionMapError(
                f"the retention of category `{category_id}` falls back on `{fallback}`, but "
                f"`{main}` does not refer to `{table_name}`: a fallback is a column of the "
                "same table or of the row's parent"
            )
        parts.append(_parent_start(ref, source.alias(), column))
    if len(parts) == 1:
        return parts[0]
    return lambda rows: func.coalesce(*(part(rows) for part in parts))


def _own_start(column: str) -> Callable[[FromClause], ColumnElement[Any]]:
    """Return how to read `column` of the row itself."""

    def start(rows: FromClause) -> ColumnElement[Any]:
        return rows.c[column]

    return start


def _parent_start(
    ref: Reference, parent: FromClause, column: str
) -> Callable[[FromClause], ColumnElement[Any]]:
    """Return how to read `column` of the parent row that a row points at through `ref`."""

    def start(rows: FromClause) -> ColumnElement[Any]:
        tie = and_(
            *(
                parent.c[p] == rows.c[c]
                for c, p in zip(ref.child_columns, ref.parent_columns, strict=True)
            )
        )
        return select(parent.c[column]).where(tie).limit(1).scalar_subquery()

    return start


def parent_reference(references: list[Reference], child: str, parent: str) -> Reference | None:
    """Return the reference by which rows of `child` point at their parent row in `parent`."""
    return next(
        (
            r
            for r in references
            if r.child == child and r.parent == parent and r.parent_columns and r.child_columns
        ),
        None,
    )


def sweep_scope(ctx: SweepContext, category_id: str) -> SweepScope:
    """Return the scope of one category's sweep; raise `RetentionMapError` when its retention
    runs from a column without dates and `ErasurePlanError` when its rules do not fit."""
    category = ctx.data_map.categories[category_id]
    shape = ctx.shape(category_id)
    table = ctx.tables[shape.main]
    rules: list[ColumnRule] = []
    if shape.action is ErasureAction.ANONYMIZE:
        rules = column_rules(ctx.data_map, ctx.system, shape.main, [category_id], table)
    blocking = (
        _blocking(ctx, category_id, table, frozenset({category_id}))
        if shape.action is ErasureAction.DELETE
        else []
    )
    free = and_(true(), *(not_(keeps) for _, keeps in blocking))
    return SweepScope(
        ctx.systems,
        ctx.system,
        category_id,
        category,
        table,
        ctx.tables,
        shape.pk,
        shape.date_column,
        shape.action,
        shape.cutoff,
        shape.cutoff_instant,
        shape.followers,
        shape.not_swept,
        rules,
        {},
        free,
        shape.start_of(table),
        blocking,
    )


def _followers(main: str, own_tables: list[str], references: list[Reference]) -> list[FollowerPath]:
    """Return the category's tables that hang from the main table, deepest first."""
    paths: dict[str, FollowerPath] = {}
    frontier: list[FollowerPath | None] = [None]
    while frontier:
        parent = frontier.pop(0)
        parent_table = main if parent is None else parent.table
        for ref in references:
            if (
                ref.parent == parent_table
                and ref.child in own_tables
                and ref.child != main
                and ref.child not in paths
                and ref.parent_columns  # a real reference
            ):
                path = FollowerPath(ref.child, ref, parent)
                paths[ref.child] = path
                frontier.append(path)
    return list(reversed(list(paths.values())))


def sweep_order(ctx: SweepContext, categories: list[str]) -> list[str]:
    """Return the categories in map order, each moved after the deleting categories that sweep
    rows referring to its rows (email openings before the subscriptions they point at): what a
    sweep frees for a later one is then what the plan counted."""
    after: dict[str, set[str]] = {}
    for c in categories:
        shape = ctx.shape(c)
        swept = {shape.main, *(p.table for p in shape.followers)}
        after[c] = {
            other
            for other in categories
            if other != c
            and ctx.data_map.categories[other].end_action is ErasureAction.DELETE
            and any(
                ref.parent in swept and ref.child == ctx.shape(other).main for ref in shape.blockers
            )
        }
    ordered: list[str] = []
    pending = list(categories)
    while pending:
        ready = next((c for c in pending if after[c] <= set(ordered)), pending[0])
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def expired_condition(scope: SweepScope) -> ColumnElement[bool]:
    """Rows of the main table whose start is before the cutoff (a row without one never is)."""
    return and_(scope.start.is_not(None), scope.start < scope.cutoff)


def _free(
    ctx: SweepContext, category_id: str, main: FromClause, visited: frozenset[str]
) -> ColumnElement[bool]:
    """Rows of `main` (the category's main table) that no kept row refers to."""
    return and_(true(), *(not_(keeps) for _, keeps in _blocking(ctx, category_id, main, visited)))


def _blocking(
    ctx: SweepContext, category_id: str, main: FromClause, visited: frozenset[str]
) -> list[tuple[Reference, ColumnElement[bool]]]:
    """Return each reference that can keep rows of `main` (the category's main table), with the
    condition of the rows it keeps: a kept row refers to them through it.

    A referring row is not kept when another deleting category sweeps it at the same instant
    (and nothing keeps it in turn): the sweeps run children first (`sweep_order`).
    """
    shape = ctx.shape(category_id)
    conditions: list[tuple[Reference, ColumnElement[bool]]] = []
    for ref in shape.blockers:
        if ref.child not in ctx.tables:
            continue
        child = ctx.tables[ref.child].alias()
        if any(c not in child.c for c in ref.child_columns):
            continue
        link = _link(ctx, shape, main, ref.parent, ref.parent_columns, child, ref.child_columns)
        if link is None:
            continue
        going = [
            _going(ctx, other, child, visited | {other})
            for other, spec in ctx.data_map.categories.items()
            if other not in visited
            and other not in ctx.gated
            and spec.system == ctx.system
            and spec.end_action is ErasureAction.DELETE
            and spec.retention.from_.split(".", 1)[0] == ref.child
        ]
        kept = not_(or_(*going)) if going else true()
        conditions.append((ref, exists().where(link, kept)))
    return conditions


def _going(
    ctx: SweepContext, category_id: str, rows: FromClause, visited: frozenset[str]
) -> ColumnElement[bool]:
    """Rows of `rows` (the main table of a deleting category) that its sweep deletes."""
    shape = ctx.shape(category_id)
    start = shape.start_of(rows)
    return and_(start.is_not(None), start < shape.cutoff, _free(ctx, category_id, rows, visited))


def _link(
    ctx: SweepContext,
    shape: _Shape,
    main: FromClause,
    parent: str,
    parent_columns: tuple[str, ...],
    child: FromClause,
    child_columns: tuple[str, ...],
) -> ColumnElement[bool] | None:
    """Return the condition tying `child` rows to `main` rows, directly or through a follower."""
    if parent == shape.main:
        return and_(
            *(child.c[c] == main.c[p] for c, p in zip(child_columns, parent_columns, strict=True))
        )
    path = next((p for p in shape.followers if p.table == parent), None)
    if path is None:
        return None
    follower = ctx.tables[parent]
    inner = select(*(follower.c[p] for p in parent_columns)).where(to_main(ctx.tables, path, main))
    if len(child_columns) == 1:
        return child.c[child_columns[0]].in_(inner)
    return tuple_(*(child.c[c] for c in child_columns)).in_(inner)


def to_main(tables: dict[str, Table], path: FollowerPath, main: FromClause) -> ColumnElement[bool]:
    """Return the condition tying rows of `path.table` to the current `main` row."""
    table = tables[path.table]
    ref = path.ref
    if path.parent is None:
        return and_(
            *(
                table.c[c] == main.c[p]
                for c, p in zip(ref.child_columns, ref.parent_columns, strict=True)
            )
        )
    parent = tables[path.parent.table]
    inner = select(*(parent.c[p] for p in ref.parent_columns)).where(
        to_main(tables, path.parent, main)
    )
    if len(ref.child_columns) == 1:
        return table.c[ref.child_columns[0]].in_(inner)
    return tuple_(*(table.c[c] for c in ref.child_columns)).in_(inner)


def pending_condition(scope: SweepScope) -> ColumnElement[bool]:
    """Rows the action has not yet changed: anonymised rows are not taken again.

    A keyed hash or a year cannot be told from the original: a table whose every rule is of those
    kinds is anonymised again by each sweep.
    """
    table = scope.table
    if scope.action is ErasureAction.ANONYMIZE:
        checks: list[ColumnElement[bool]] = []
        for rule in scope.rules:
            col = table.c[rule.name]
            strategy = rule.rule.strategy
            if strategy is AnonymizeStrategy.NULL:
                checks.append(col.is_not(None))
            elif strategy is AnonymizeStrategy.FIXED:
                checks.append(col.is_distinct_from(constant_value(rule, col)))
            elif strategy is AnonymizeStrategy.UNIQUE_PLACEHOLDER:
                checks.append(not_(col.like(f"{PLACEHOLDER_PREFIX}%")))
            elif strategy is AnonymizeStrategy.TRUNCATE:
                checks.append(func.length(col) > (rule.rule.length or 0))
        return or_(*checks) if checks else true()
    return true()


def candidates(scope: SweepScope, after: Key | None, *, with_date: bool = True) -> Select[Any]:
    """Select (key..., date) of the rows to sweep, in key order, after `after`."""
    table = scope.table
    pk_cols = [table.c[c] for c in scope.pk]
    dated = [scope.start] if with_date else []
    stmt = select(*pk_cols, *dated).where(
        expired_condition(scope), scope.free, pending_condition(scope)
    )
    if after is not None:
        if len(pk_cols) == 1:
            stmt = stmt.where(pk_cols[0] > after[0])
        else:
            stmt = stmt.where(tuple_(*pk_cols) > tuple_(*after))
    return stmt.order_by(*pk_cols)
