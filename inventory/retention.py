"""Expire data through the map: each category's retention period becomes a sweep of its rows.

A category's retention runs `from` a date column (`table.column`): its *main table*. Where that
date is NULL the period runs from the first of the `fallback` columns set (of the same table, or
of the row's parent); a row with no start at all is never swept (it is counted apart, "no date").
A row whose start plus the period is before now has expired. A period is a maximum: what happens
to an expired row is the retention's `at_end`, `delete` or `anonymize` (with the map's strategies,
as in an erasure), by default the category's erasure action (a category that retains data on
erasure must say its `at_end`: invoices are kept for the law, then deleted).

Rows of the category's other tables that hang from the main table (a foreign key or a map link
towards it, e.g. invoice lines from their invoice) follow their parent: they go first, children
before parents. Referring rows that another deleting category sweeps at the same instant go first
(the plan orders the categories so); an expired row that rows outside the sweep still keep is
kept (counted as "still referenced", and per reference in `blocked`: table, columns, rows). The
category's tables that neither hold the date nor hang from the main table have no date in the map
and are not swept: the plan says so.

`plan_retention` counts, changing nothing; `sweep_category` does the same work in batches, each in
its own transaction, so an interrupted run is resumed by running again: swept rows no longer
match. A `Gate` lets the caller hold rows back (the desk spares accounts not yet warned).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    delete,
    exists,
    func,
    select,
    tuple_,
)

from inventory.anonymisation import (
    anonymize_rows,
)
from inventory.keyed import Key, KeyedTable, chunks, key_in
from inventory.model import (
    DataMap,
    ErasureAction,
    IdentityKind,
    LocalText,
)
from inventory.retention_scope import (
    FollowerPath,
    SweepScope,
    candidates,
    expired_condition,
    pending_condition,
    sweep_context,
    sweep_order,
    sweep_scope,
    to_main,
)
from inventory.systems import Systems

DEFAULT_BATCH_SIZE = 5000

Gate = Callable[[Sequence[tuple[Key, Any]]], Sequence[Key]]
"""Given expired rows as (primary key, date), return the keys that may be swept now."""


@dataclass(frozen=True)
class Follower:
    """A table of the category whose rows follow their parent row of the main table."""

    table: str
    rows: int


@dataclass(frozen=True)
class Blocked:
    """Expired rows of the main table kept because rows of `table` refer to them through
    `columns`, rows that no sweep takes now (another category's rows not yet expired, or
    another person's)."""

    table: str
    columns: str
    rows: int


@dataclass(frozen=True)
class CategorySweep:
    """What the retention of one category does now: counts only, never values.

    `rows` are the main table's rows that the action changes (deleted or anonymised: a period
    ends in one of them, never in keeping);
    `followers` the rows of other tables deleted with them. `held` are expired rows the gate holds
    back (an account not yet warned), `legal_hold` those a legal hold keeps (the caller's gate
    counts them); `referenced` expired rows kept because rows outside the
    sweep refer to them (`blocked` says by which references; a row can be kept by several);
    `no_date` rows without a start (neither the date nor a fallback). `fallback` lists the
    columns the start falls back on.
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
    legal_hold: int = 0
    fallback: tuple[str, ...] = ()
    blocked: tuple[Blocked, ...] = ()

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


def warning_email_column(data_map: DataMap, category_id: str) -> str | None:
    """Return the email column of an account table that a category's retention expires.

    An account table is where an email identity expects one row per person; deleting or
    anonymising it after inactivity is announced to its owner beforehand.
    """
    category = data_map.categories[category_id]
    if category.end_action is ErasureAction.RETAIN:
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
            ctx = sweep_context(conn, data_map, systems, system, now, frozenset(gates))
            for category_id in sweep_order(ctx, categories):
                scope = sweep_scope(ctx, category_id)
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
        ctx = sweep_context(conn, data_map, systems, category.system, now, frozenset(gated))
        scope = sweep_scope(ctx, category_id)
    outcome = SweepOutcome(category.system, category_id, scope.action)
    outcome.followers = {path.table: 0 for path in scope.followers}
    after: Key | None = None
    by_range = gate is None and len(scope.pk) == 1 and scope.action is ErasureAction.DELETE
    while True:
        keys: list[Key] = []
        with engine.connect() as conn, conn.begin():
            if by_range:  # only the batch's first and last keys cross the wire
                ids = candidates(scope, after, with_date=False).limit(batch_size).subquery()
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
                rows = conn.execute(candidates(scope, after).limit(batch_size)).all()
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


def _count(conn: Connection, scope: SweepScope, gate: Gate | None) -> CategorySweep:
    table = scope.table
    start = scope.start
    expiring = and_(expired_condition(scope), pending_condition(scope))
    taken = and_(expiring, scope.free)
    no_date, expired, count, oldest, *blocked = conn.execute(  # one scan of the table
        select(
            func.count(case((start.is_(None), 1))),
            func.count(case((expiring, 1))),
            func.count(case((taken, 1))),
            func.min(case((taken, start))),
            *(func.count(case((and_(expiring, keeps), 1))) for _, keeps in scope.blocking),
        ).select_from(table)
    ).one()
    held = 0
    keys: list[Key] | None = None
    if gate is not None:
        rows = [(tuple(r)[: len(scope.pk)], r[-1]) for r in conn.execute(candidates(scope, None))]
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
        fallback=tuple(scope.spec.retention.fallback),
        blocked=tuple(
            Blocked(ref.child, ", ".join(ref.child_columns), n)
            for (ref, _), n in zip(scope.blocking, blocked, strict=True)
            if n
        ),
    )


def _count_followers(
    conn: Connection, scope: SweepScope, path: FollowerPath, keys: list[Key] | None
) -> int:
    follower = scope.tables[path.table]
    taken = select(*(scope.table.c[c] for c in scope.pk)).where(
        expired_condition(scope), scope.free, pending_condition(scope)
    )
    if keys is not None:
        total = 0
        for chunk in chunks(keys):
            total += conn.execute(
                select(func.count())
                .select_from(follower)
                .where(
                    exists().where(
                        to_main(scope.tables, path, scope.table),
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
        .where(exists().where(to_main(scope.tables, path, scope.table), main_in))
    )
    return int(conn.execute(stmt).scalar_one())


# --- changing the rows ------------------------------------------------------------------------


def _range(scope: SweepScope, low: Any, high: Any) -> ColumnElement[bool]:
    """Return the condition of a batch that is every candidate between two keys: the range and
    the sweep's own conditions (no list of thousands of keys to send)."""
    pk = scope.table.c[scope.pk[0]]
    return and_(
        pk >= low, pk <= high, expired_condition(scope), scope.free, pending_condition(scope)
    )


def _apply(
    conn: Connection,
    scope: SweepScope,
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
                    exists().where(to_main(scope.tables, path, scope.table), in_batch)
                )
            ).rowcount
            outcome.followers[path.table] = outcome.followers.get(path.table, 0) + gone
            changed += gone
        rows = conn.execute(delete(table).where(in_batch)).rowcount
        outcome.rows += rows
        return changed + rows
    if scope.action is ErasureAction.ANONYMIZE:
        keyed = KeyedTable(conn, scope.systems, scope.system, table, scope.pk)
        counts: list[int] = []
        anonymize_rows(keyed, scope.rules, keys, secret_key, scope.system, len(keys), counts.append)
        outcome.rows += sum(counts)
        return sum(counts)
    raise ValueError(f"a retention sweep cannot {scope.action.value}: it deletes or anonymises")


def as_utc(value: datetime | date, zone: tzinfo = UTC) -> datetime:
    """Return a stored date as an aware UTC instant: a time stored without a zone (and a day) is
    read in `zone`, the zone the map gives for the system that stores it."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC)
    return (
        value.replace(tzinfo=zone).astimezone(UTC)
        if value.tzinfo is None
        else value.astimezone(UTC)
    )


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
        ctx = sweep_context(conn, data_map, systems, category.system, at, frozenset())
        scope = sweep_scope(ctx, category_id)
        table = scope.table
        pk_cols = [table.c[c] for c in scope.pk]
        extra = [table.c[c] for c in columns]
        after: Key | None = None
        while True:
            stmt = select(*pk_cols, scope.start, *extra).where(
                expired_condition(scope), pending_condition(scope)
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
