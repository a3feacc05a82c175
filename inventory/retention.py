"""Expire data through the map: each category's retention period becomes a sweep of its rows.

A category's retention runs `from` a date column (`table.column`): its *main table*. A row of that
table whose date plus the period is before now has expired; a row without a date is never swept
(it is counted apart, "no date"). What happens to an expired row is the category's erasure
action: `delete`, `anonymize` (with the map's strategies, as in an erasure) or `retain`, which
archives the row (the map's `restriction` change, when it sets columns of that table) and never
deletes it.

Rows of the category's other tables that hang from the main table (a foreign key or a map link
towards it, e.g. invoice lines from their invoice) follow their parent: they go first, children
before parents. An expired row that rows outside the sweep still refer to is kept (counted as
"still referenced"). The category's tables that neither hold the date nor hang from the main table
have no date in the map and are not swept: the plan says so.

`plan_retention` counts, changing nothing; `sweep_category` does the same work in batches, each in
its own transaction, so an interrupted run is resumed by running again: swept rows no longer
match. A `Gate` lets the caller hold rows back (the desk spares accounts not yet warned).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    true,
    tuple_,
    update,
)

from inventory.anonymisation import (
    CHANGE_TIME,
    PLACEHOLDER_PREFIX,
    ColumnRule,
    anonymize_rows,
    column_rules,
    constant_value,
    python_type,
    restriction_columns,
)
from inventory.keyed import Key, KeyedTable, chunks, key_in
from inventory.model import (
    AnonymizeStrategy,
    Category,
    DataMap,
    Duration,
    ErasureAction,
    IdentityKind,
    LocalText,
)
from inventory.references import Reference, system_references
from inventory.systems import Systems

DEFAULT_BATCH_SIZE = 5000

Gate = Callable[[Sequence[tuple[Key, Any]]], Sequence[Key]]
"""Given expired rows as (primary key, date), return the keys that may be swept now."""


class RetentionMapError(ValueError):
    """The map's retention does not fit the live schema (it runs from a column without dates)."""


@dataclass(frozen=True)
class Follower:
    """A table of the category whose rows follow their parent row of the main table."""

    table: str
    rows: int


@dataclass(frozen=True)
class CategorySweep:
    """What the retention of one category does now: counts only, never values.

    `rows` are the main table's rows that the action changes (deleted, anonymised, archived);
    `followers` the rows of other tables deleted with them. `held` are expired rows the gate holds
    back (an account not yet warned); `referenced` expired rows kept because rows outside the
    sweep refer to them; `no_date` rows without a date. `archive_columns` is empty when no
    restriction covers a retained table: its rows are then reported, left as they are.
    """

    system: str
    category: str
    table: str
    date_column: str
    action: ErasureAction
    period: str
    cutoff: datetime
    condition: LocalText | None
    rows: int
    oldest: datetime | date | None
    followers: tuple[Follower, ...] = ()
    held: int = 0
    referenced: int = 0
    no_date: int = 0
    not_swept: tuple[str, ...] = ()
    archive_columns: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.rows + sum(f.rows for f in self.followers)


@dataclass(frozen=True)
class RetentionPlan:
    sweeps: list[CategorySweep]

    def by_system(self) -> dict[str, list[CategorySweep]]:
        grouped: dict[str, list[CategorySweep]] = {}
        for sweep in self.sweeps:
            grouped.setdefault(sweep.system, []).append(sweep)
        return grouped


@dataclass
class SweepOutcome:
    """What one category's sweep changed: rows of the main table and of each follower."""

    system: str
    category: str
    action: ErasureAction
    rows: int = 0
    followers: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    swept_keys: list[Key] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.rows + sum(self.followers.values())


def retention_cutoff(period: Duration, now: datetime) -> datetime:
    """Return the instant before which a date has expired: `now` minus the period, by calendar."""
    months = now.month - 1 - period.months - 12 * period.years
    year, month = now.year + months // 12, months % 12 + 1
    day = min(now.day, calendar.monthrange(year, month)[1])
    return now.replace(year=year, month=month, day=day) - timedelta(
        days=period.days, seconds=period.seconds
    )


def warning_email_column(data_map: DataMap, category_id: str) -> str | None:
    """Return the email column of an account table that a category's retention expires.

    An account table is where an email identity expects one row per person; deleting or
    anonymising it after inactivity is announced to its owner beforehand.
    """
    category = data_map.categories[category_id]
    if category.erasure.action is ErasureAction.RETAIN:
        return None
    main = category.retention.from_.split(".", 1)[0]
    for identity in data_map.identities.values():
        if identity.kind is not IdentityKind.EMAIL:
            continue
        for loc in identity.locations.get(category.system, []):
            if loc.expect_one and loc.column.split(".", 1)[0] == main:
                return loc.column.split(".", 1)[1]
    return None


def plan_retention(
    data_map: DataMap,
    systems: Systems,
    now: datetime,
    *,
    gates: Mapping[str, Gate] | None = None,
) -> RetentionPlan:
    """Return what the retention of every category would do at `now`, changing nothing, in the
    order the sweeps run."""
    gates = gates or {}
    sweeps = []
    for system in data_map.systems:
        categories = [c for c, spec in data_map.categories.items() if spec.system == system]
        if not categories:
            continue
        with systems.engine(system).connect() as conn:
            ctx = _context(conn, data_map, systems, system, now, frozenset(gates))
            for category_id in _sweep_order(ctx, categories):
                scope = _scope(ctx, category_id)
                sweeps.append(_count(conn, scope, gates.get(category_id)))
    return RetentionPlan(sweeps)


def sweep_category(
    data_map: DataMap,
    systems: Systems,
    category_id: str,
    now: datetime,
    *,
    secret_key: bytes,
    batch_size: int = DEFAULT_BATCH_SIZE,
    gate: Gate | None = None,
    gated: Collection[str] = (),
    on_batch: Callable[[int], None] | None = None,
) -> SweepOutcome:
    """Apply one category's retention in batches, each committed on its own; return the counts.

    Run the categories in the plan's order. `gated` names the categories with a gate (as given to
    `plan_retention`); `on_batch` is told how many rows each committed batch changed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    category = data_map.categories[category_id]
    engine = systems.engine(category.system)
    with engine.connect() as conn:
        ctx = _context(conn, data_map, systems, category.system, now, frozenset(gated))
        scope = _scope(ctx, category_id)
    outcome = SweepOutcome(category.system, category_id, scope.action)
    outcome.followers = {path.table: 0 for path in scope.followers}
    after: Key | None = None
    by_range = gate is None and len(scope.pk) == 1 and scope.action is ErasureAction.DELETE
    while True:
        keys: list[Key] = []
        with engine.connect() as conn, conn.begin():
            if by_range:  # only the batch's first and last keys cross the wire
                ids = _candidates(scope, after, with_date=False).limit(batch_size).subquery()
                first = ids.c[scope.pk[0]]
                low, high, taken = conn.execute(
                    select(func.min(first), func.max(first), func.count()).select_from(ids)
                ).one()
                if not taken:
                    break
                after = (high,)
                changed = _apply(
                    conn, scope, keys, _range(scope, low, high), secret_key, now, outcome
                )
            else:
                rows = conn.execute(_candidates(scope, after).limit(batch_size)).all()
                if not rows:
                    break
                taken = len(rows)
                after = tuple(rows[-1])[: len(scope.pk)]
                found = [(tuple(r)[: len(scope.pk)], r[-1]) for r in rows]
                keys = list(gate(found)) if gate is not None else [k for k, _ in found]
                chosen = key_in(scope.table, scope.pk, keys)
                changed = _apply(conn, scope, keys, chosen, secret_key, now, outcome) if keys else 0
        outcome.batches += 1
        if gate is not None:
            outcome.swept_keys.extend(keys)
        if on_batch is not None:
            on_batch(changed)
        if taken < batch_size:
            break
    return outcome


# --- the scope of one category ----------------------------------------------------------------


@dataclass
class _Path:
    """How a follower table reaches the main table: its reference, then its parent's path."""

    table: str
    ref: Reference
    parent: _Path | None


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
    followers: list[_Path]
    blockers: list[Reference]
    not_swept: list[str]


@dataclass
class _Context:
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
        if category_id not in self.shapes:
            self.shapes[category_id] = _shape(self, category_id)
        return self.shapes[category_id]


@dataclass
class _Scope:
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
    followers: list[_Path]
    not_swept: list[str]
    rules: list[ColumnRule]
    restriction: dict[str, Any]
    free: ColumnElement[bool]


def _context(
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    system: str,
    now: datetime,
    gated: frozenset[str],
) -> _Context:
    references = system_references(data_map, system, conn)
    return _Context(data_map, systems, system, systems.tables(system), references, now, gated)


def _shape(ctx: _Context, category_id: str) -> _Shape:
    category = ctx.data_map.categories[category_id]
    main, date_column = category.retention.from_.split(".", 1)
    table = ctx.tables[main]
    pk = tuple(ctx.data_map.systems[ctx.system].tables[main].primary_key)
    instant = retention_cutoff(category.retention.period, ctx.now)
    kind = python_type(table.c[date_column])
    if not issubclass(kind, date):
        raise RetentionMapError(
            f"the retention of category `{category_id}` runs from `{main}.{date_column}`, which "
            f"holds {table.c[date_column].type} in `{ctx.system}`, not a date or timestamp: "
            "point `retention.from` at a date or timestamp column (`dsr map check --live` "
            "lists such problems)"
        )
    cutoff: datetime | date = (
        instant.date() if issubclass(kind, date) and not issubclass(kind, datetime) else instant
    )
    own_tables = list(dict.fromkeys(f.table for f in category.fields_in(ctx.system)))
    action = category.erasure.action
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
    )


def _scope(ctx: _Context, category_id: str) -> _Scope:
    category = ctx.data_map.categories[category_id]
    shape = ctx.shape(category_id)
    table = ctx.tables[shape.main]
    rules: list[ColumnRule] = []
    restriction: dict[str, Any] = {}
    if shape.action is ErasureAction.ANONYMIZE:
        rules = column_rules(ctx.data_map, ctx.system, shape.main, [category_id], table)
    elif shape.action is ErasureAction.RETAIN:
        restriction = restriction_columns(ctx.data_map, ctx.system, shape.main, table)
    free = (
        _free(ctx, category_id, table, frozenset({category_id}))
        if shape.action is ErasureAction.DELETE
        else true()
    )
    return _Scope(
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
        restriction,
        free,
    )


def _followers(main: str, own_tables: list[str], references: list[Reference]) -> list[_Path]:
    """Return the category's tables that hang from the main table, deepest first."""
    paths: dict[str, _Path] = {}
    frontier: list[_Path | None] = [None]
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
                path = _Path(ref.child, ref, parent)
                paths[ref.child] = path
                frontier.append(path)
    return list(reversed(list(paths.values())))


def _sweep_order(ctx: _Context, categories: list[str]) -> list[str]:
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
            and ctx.data_map.categories[other].erasure.action is ErasureAction.DELETE
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


# --- the rows a sweep takes -------------------------------------------------------------------


def _expired(scope: _Scope) -> ColumnElement[bool]:
    col = scope.table.c[scope.date_column]
    return and_(col.is_not(None), col < scope.cutoff)


def _free(
    ctx: _Context, category_id: str, main: FromClause, visited: frozenset[str]
) -> ColumnElement[bool]:
    """Rows of `main` (the category's main table) that no kept row refers to.

    A referring row is not kept when another deleting category sweeps it at the same instant
    (and nothing keeps it in turn): the sweeps run children first (`_sweep_order`).
    """
    shape = ctx.shape(category_id)
    conditions = []
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
            and spec.erasure.action is ErasureAction.DELETE
            and spec.retention.from_.split(".", 1)[0] == ref.child
        ]
        kept = not_(or_(*going)) if going else true()
        conditions.append(not_(exists().where(link, kept)))
    return and_(true(), *conditions)


def _going(
    ctx: _Context, category_id: str, rows: FromClause, visited: frozenset[str]
) -> ColumnElement[bool]:
    """Rows of `rows` (the main table of a deleting category) that its sweep deletes."""
    shape = ctx.shape(category_id)
    col = rows.c[shape.date_column]
    return and_(col.is_not(None), col < shape.cutoff, _free(ctx, category_id, rows, visited))


def _link(
    ctx: _Context,
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
    inner = select(*(follower.c[p] for p in parent_columns)).where(_to_main(ctx.tables, path, main))
    if len(child_columns) == 1:
        return child.c[child_columns[0]].in_(inner)
    return tuple_(*(child.c[c] for c in child_columns)).in_(inner)


def _to_main(tables: dict[str, Table], path: _Path, main: FromClause) -> ColumnElement[bool]:
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
        _to_main(tables, path.parent, main)
    )
    if len(ref.child_columns) == 1:
        return table.c[ref.child_columns[0]].in_(inner)
    return tuple_(*(table.c[c] for c in ref.child_columns)).in_(inner)


def _pending(scope: _Scope) -> ColumnElement[bool]:
    """Rows the action has not yet changed: anonymised or archived rows are not taken again.

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
    if scope.action is ErasureAction.RETAIN and scope.restriction:
        done = and_(
            *(
                table.c[c].is_not(None) if v is CHANGE_TIME else table.c[c].is_not_distinct_from(v)
                for c, v in scope.restriction.items()
            )
        )
        return not_(done)
    return true()


def _candidates(scope: _Scope, after: Key | None, *, with_date: bool = True) -> Select[Any]:
    """Select (key..., date) of the rows to sweep, in key order, after `after`."""
    table = scope.table
    pk_cols = [table.c[c] for c in scope.pk]
    dated = [table.c[scope.date_column]] if with_date else []
    stmt = select(*pk_cols, *dated).where(_expired(scope), scope.free, _pending(scope))
    if after is not None:
        if len(pk_cols) == 1:
            stmt = stmt.where(pk_cols[0] > after[0])
        else:
            stmt = stmt.where(tuple_(*pk_cols) > tuple_(*after))
    return stmt.order_by(*pk_cols)


def _count(conn: Connection, scope: _Scope, gate: Gate | None) -> CategorySweep:
    table = scope.table
    date_col = table.c[scope.date_column]
    expiring = and_(_expired(scope), _pending(scope))
    taken = and_(expiring, scope.free)
    no_date, expired, count, oldest = conn.execute(  # one scan of the table
        select(
            func.count(case((date_col.is_(None), 1))),
            func.count(case((expiring, 1))),
            func.count(case((taken, 1))),
            func.min(case((taken, date_col))),
        ).select_from(table)
    ).one()
    held = 0
    keys: list[Key] | None = None
    if gate is not None:
        rows = [(tuple(r)[: len(scope.pk)], r[-1]) for r in conn.execute(_candidates(scope, None))]
        allowed = set(gate(rows))
        keys = [k for k, _ in rows if k in allowed]
        dates = [d for k, d in rows if k in allowed]
        count, oldest = len(keys), min(dates, default=None)
        held = len(rows) - count
    followers = tuple(
        Follower(path.table, _count_followers(conn, scope, path, keys)) for path in scope.followers
    )
    return CategorySweep(
        system=scope.system,
        category=scope.category,
        table=table.name,
        date_column=scope.date_column,
        action=scope.action,
        period=scope.spec.retention.period.iso,
        cutoff=scope.cutoff_instant,
        condition=scope.spec.retention.condition,
        rows=count,
        oldest=oldest,
        followers=followers,
        held=held,
        referenced=expired - count - held,
        no_date=no_date,
        not_swept=tuple(scope.not_swept),
        archive_columns=tuple(scope.restriction),
    )


def _count_followers(conn: Connection, scope: _Scope, path: _Path, keys: list[Key] | None) -> int:
    follower = scope.tables[path.table]
    taken = select(*(scope.table.c[c] for c in scope.pk)).where(
        _expired(scope), scope.free, _pending(scope)
    )
    if keys is not None:
        total = 0
        for chunk in chunks(keys):
            total += conn.execute(
                select(func.count())
                .select_from(follower)
                .where(
                    exists().where(
                        _to_main(scope.tables, path, scope.table),
                        key_in(scope.table, scope.pk, chunk),
                    )
                )
            ).scalar_one()
        return total
    if len(scope.pk) == 1:
        main_in = scope.table.c[scope.pk[0]].in_(taken)
    else:
        main_in = tuple_(*(scope.table.c[c] for c in scope.pk)).in_(taken)
    stmt = (
        select(func.count())
        .select_from(follower)
        .where(exists().where(_to_main(scope.tables, path, scope.table), main_in))
    )
    return int(conn.execute(stmt).scalar_one())


# --- changing the rows ------------------------------------------------------------------------


def _range(scope: _Scope, low: Any, high: Any) -> ColumnElement[bool]:
    """Return the condition of a batch that is every candidate between two keys: the range and
    the sweep's own conditions (no list of thousands of keys to send)."""
    pk = scope.table.c[scope.pk[0]]
    return and_(pk >= low, pk <= high, _expired(scope), scope.free, _pending(scope))


def _apply(
    conn: Connection,
    scope: _Scope,
    keys: list[Key],
    in_batch: ColumnElement[bool],
    secret_key: bytes,
    now: datetime,
    outcome: SweepOutcome,
) -> int:
    table = scope.table
    if scope.action is ErasureAction.DELETE:
        changed = 0
        for path in scope.followers:  # deepest first: children before parents
            follower = scope.tables[path.table]
            gone = conn.execute(
                delete(follower).where(
                    exists().where(_to_main(scope.tables, path, scope.table), in_batch)
                )
            ).rowcount
            outcome.followers[path.table] = outcome.followers.get(path.table, 0) + gone
            changed += gone
        rows = conn.execute(delete(table).where(in_batch)).rowcount
        outcome.rows += rows
        return changed + rows
    if scope.action is ErasureAction.ANONYMIZE:
        keyed = KeyedTable(conn, scope.systems, scope.system, table, scope.pk)
        rows = anonymize_rows(keyed, scope.rules, keys, secret_key, scope.system, len(keys))
        outcome.rows += rows
        return rows
    for path in scope.followers:  # archived with their parent, as they are
        follower = scope.tables[path.table]
        kept = conn.execute(
            select(func.count())
            .select_from(follower)
            .where(exists().where(_to_main(scope.tables, path, scope.table), in_batch))
        ).scalar_one()
        outcome.followers[path.table] = outcome.followers.get(path.table, 0) + kept
    if scope.restriction:
        values = {c: now if v is CHANGE_TIME else v for c, v in scope.restriction.items()}
        conn.execute(update(table).where(key_in(table, scope.pk, keys)).values(values))
    outcome.rows += len(keys)
    return len(keys)


def as_utc(value: datetime | date) -> datetime:
    """Return a stored date as an aware UTC instant (SQLite returns naive UTC datetimes)."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iter_expiring(
    data_map: DataMap,
    systems: Systems,
    category_id: str,
    at: datetime,
    columns: Sequence[str],
    batch_size: int = 1000,
) -> Iterator[list[tuple[Key, Any, dict[str, Any]]]]:
    """Yield batches of (key, date, values of `columns`) of the main table's rows, not yet
    changed, that will have expired at `at` (to warn their owners beforehand)."""
    category = data_map.categories[category_id]
    with systems.engine(category.system).connect() as conn:
        ctx = _context(conn, data_map, systems, category.system, at, frozenset())
        scope = _scope(ctx, category_id)
        table = scope.table
        pk_cols = [table.c[c] for c in scope.pk]
        extra = [table.c[c] for c in columns]
        after: Key | None = None
        while True:
            stmt = select(*pk_cols, table.c[scope.date_column], *extra).where(
                _expired(scope), _pending(scope)
            )
            if after is not None:
                stmt = stmt.where(
                    pk_cols[0] > after[0]
                    if len(pk_cols) == 1
                    else tuple_(*pk_cols) > tuple_(*after)
                )
            rows = conn.execute(stmt.order_by(*pk_cols).limit(batch_size)).all()
            if not rows:
                return
            n = len(scope.pk)
            yield [
                (
                    tuple(r)[:n],
                    r[n],
                    {c: r[n + 1 + i] for i, c in enumerate(columns)},
                )
                for r in rows
            ]
            after = tuple(rows[-1])[:n]
            if len(rows) < batch_size:
                return
