"""Erase one person's data through the map: a plan staff can read, then its execution.

`plan_erasure` says, per system, table and category, which rows go, which are anonymised (with the
new value of each column) and which are kept (and why, until when), in the order they are changed:
children before parents, from the map's links and the live foreign keys. `execute_erasure` applies
the same plan, computed again inside one transaction per system: set-based statements on batches
of primary keys, all or nothing per system, and nothing more to do on a second run.

Rows that others still need are kept, and what the map cannot erase blocks the system: see
`inventory.sharing`. Every foreign key of the database counts, named or not (SQLite's have no
name), and SQLite connections enforce them (see `inventory.systems.enforce_foreign_keys`), so
the database refuses whatever the plan missed.

The references and the order of the tables come from `inventory.references`, the column rules
from `inventory.anonymisation`, the statements on batches of keys from `inventory.keyed`; the
retention sweeps (`inventory.retention`) build on the same three.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    not_,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from inventory.anonymisation import (
    CHANGE_TIME,
    ColumnRule,
    ErasurePlanError,
    anonymize_rows,
    column_rules,
    describe_rule,
    describe_value,
)
from inventory.kept import kept_dates, withdrawal_columns, withdrawn_tables
from inventory.keyed import (
    PLANNING,
    HeldWrites,
    Key,
    KeyedStatement,
    KeyedTable,
    chunks,
    select_where,
)
from inventory.locator import SubjectLocation, category_tables, locate_subject
from inventory.model import (
    Anonymize,
    AnonymizeStrategy,
    DataMap,
    ErasureAction,
    IdentityKind,
    LocalText,
)
from inventory.phrases import N_, Phrase, catalogue_text, joined
from inventory.references import (
    Reference,
    execution_order,
    foreign_keys,
    system_references,
)
from inventory.sharing import keep_shared_rows
from inventory.systems import Systems, SystemUnavailable, short_reason

SHARED_REASON = N_(
    "Shared with other people: kept while they take part in it; only your own data is removed "
    "from it."
)
SHARED_UNTIL = N_("While other people take part in it")
SIDE_REASON = N_("Your side anonymised, record kept for the other person.")
SIDE_UNTIL = N_("While the other person takes part in it")
MENTION_REASON = N_(
    "You are named in another person's record: only that mention is blanked or anonymised."
)
"""The reasons and periods the plan gives for what it keeps of shared records (as the map's own
texts are given: `catalogue_text` reads their French from the catalogue)."""


@dataclass(frozen=True)
class PlannedStep:
    """What one category's rows of one table undergo; `order` is the table's rank in its system.

    Steps with the same `order` concern the same table and run in the same statements. Of kept
    rows, `withdrawn` are taken out of everyday use (by their own columns, or their parent's), and
    `kept_until` gives the last day each row of the category's main table is kept.
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
    withdrawn: int = 0
    kept_until: tuple[date | None, ...] = ()
    kind: Literal["", "side", "mention"] = ""
    """`side`: the subject's side of rows shared with others (the map's `sides`), anonymised,
    the rows kept for the others; `mention`: rows of others that name the subject (a field that
    `identifies` them), whose naming columns are anonymised."""


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

    `rows_anonymized` and `rows_withdrawn` count the rows this run changed: a rerun finds them
    already anonymous, or already out of use. `steps` are the plan the system's transaction
    applied; `blocked` says what refused it (the system is then unchanged).
    """

    system: str
    status: Literal["done", "failed", "skipped"]
    rows_deleted: int = 0
    rows_anonymized: int = 0
    rows_retained: int = 0
    rows_withdrawn: int = 0
    error: str | None = None
    steps: list[PlannedStep] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


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
        steps.extend(_steps(data_map, system, work.tables))
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


def systems_to_change(data_map: DataMap, location: SubjectLocation) -> list[str]:
    """Return the systems in which the subject was found: the ones an erasure changes."""
    return [system for system in data_map.systems if _has_rows(location, system)]


def verify_erased(
    data_map: DataMap,
    systems: Systems,
    identity: str,
    value: str,
    *,
    others: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Locate the subject again (by `others` too); return the `delete` categories in which rows
    of theirs remain."""
    location = locate_subject(data_map, systems, identity, value, others=others)
    remaining = []
    for category_id, category in data_map.categories.items():
        if category.erasure.action is not ErasureAction.DELETE:
            continue
        for system, table_name, _ in category_tables(data_map, category):
            if location.owned_keys(system, table_name):
                remaining.append(category_id)
                break
    # the rows of others that named the subject must not name them any more
    remaining.extend(f"{m.category} (mentions)" for m in location.mentions if m.keys)
    return remaining


# --- planning ---------------------------------------------------------------------------------


@dataclass
class _TableWork:
    """What happens to one table's rows: keys to delete, to anonymise, to keep."""

    name: str
    primary_key: tuple[str, ...]
    action: ErasureAction | None
    categories: list[str]
    delete: dict[Key, None] = field(default_factory=dict)
    anonymize: Sequence[Key] = field(default_factory=list)
    retain: Sequence[Key] = field(default_factory=list)
    shared: dict[Key, None] = field(default_factory=dict)
    rules: list[ColumnRule] = field(default_factory=list)
    restriction: dict[str, Any] = field(default_factory=dict)  # column -> value or CHANGE_TIME
    order: int = 0
    withdrawn: bool = False  # the kept rows are out of use (own columns or parent's)
    kept_until: dict[str, list[date | None]] = field(default_factory=dict)  # per category
    # rows shared with others (the map's `sides`): the subject's sides, their keys, the rules
    sides: list[tuple[tuple[str, ...], list[Key], list[ColumnRule]]] = field(default_factory=list)
    # rows of others naming the subject: category, the rules of the columns about them, the keys
    mentions: list[tuple[str, list[ColumnRule], list[Key]]] = field(default_factory=list)


@dataclass
class _SystemWork:
    system: str
    tables: list[_TableWork]  # its steps: `_steps`, once the plan's held reads are sent
    blocked: list[str]


def _has_rows(location: SubjectLocation, system: str) -> bool:
    return any(m.keys for (s, _), m in location.tables.items() if s == system) or any(
        m.keys for m in location.mentions if m.system == system
    )


@dataclass(frozen=True)
class _TableLayout:
    """What the map and the schema say of one table, whoever the subject is."""

    name: str
    primary_key: tuple[str, ...]
    action: ErasureAction | None
    categories: list[str]
    rules: list[ColumnRule]
    restriction: dict[str, Any]
    withdrawn: bool
    side_rules: dict[str, list[ColumnRule]] = field(default_factory=dict)
    mention_rules: dict[str, tuple[str, list[ColumnRule]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _SystemLayout:
    tables: list[_TableLayout]
    references: list[Reference]
    order: list[str]
    foreign_keys: list[Reference]  # the reflection it was made from (see `forget_schema`)
    spec: object  # the map's system it was made from


def _layout(conn: Connection, data_map: DataMap, systems: Systems, system: str) -> _SystemLayout:
    """Return the system's layout, worked out once per `Systems`, schema reflection and set of
    erasure actions: a `Systems` outlives a request, and a request's legal holds turn some of
    the map's categories into kept ones (`inventory.holds.with_holds`)."""
    key = ("erasure-layout", system, _erasure_actions(data_map))
    layout = systems.memo(key, lambda: _make_layout(conn, data_map, systems, system))
    if (
        layout.foreign_keys is not foreign_keys(conn)  # the schema was reflected again
        or layout.spec is not data_map.systems[system]  # another map, not a held copy of it
    ):
        systems.forget(key)
        layout = systems.memo(key, lambda: _make_layout(conn, data_map, systems, system))
    return layout


def _erasure_actions(data_map: DataMap) -> tuple[Hashable, ...]:
    """Return what of the map's erasure rules a layout depends on, as a key."""
    return tuple(
        (category_id, category.erasure.action, tuple(category.erasure.withdraw))
        for category_id, category in data_map.categories.items()
    )


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
            column_rules(data_map, system, name, categories, tables[name])
            if action is ErasureAction.ANONYMIZE
            else []
        )
        restriction = (
            withdrawal_columns(data_map, system, name, tables[name], categories)
            if action is ErasureAction.RETAIN
            else {}
        )
        withdrawn = bool(restriction) or any(
            (system, name) in withdrawn_tables(data_map, c) for c in categories
        )
        layouts.append(
            _TableLayout(
                name,
                tuple(table_spec.primary_key),
                action,
                categories,
                rules,
                restriction,
                withdrawn and action is ErasureAction.RETAIN,
                _side_rules(data_map, system, name, categories, tables[name]),
                _mention_rules(data_map, system, name, categories, tables[name]),
            )
        )
    reflected = foreign_keys(conn)
    references = system_references(data_map, system, conn)
    order = execution_order(data_map, system, references)
    return _SystemLayout(layouts, references, order, reflected, spec)


def _plan_system(
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    system: str,
    location: SubjectLocation,
    writes: HeldWrites | None = None,
) -> _SystemWork:
    """Plan the system's erasure. With `writes` (the erasure's own), the dates of the kept rows
    are read with them (`kept_dates`): `work.kept_until` is filled once they are sent."""
    tables = systems.tables(system)
    layout = _layout(conn, data_map, systems, system)
    works: dict[str, _TableWork] = {}
    for table_layout in layout.tables:
        name, action = table_layout.name, table_layout.action
        work = _TableWork(name, table_layout.primary_key, action, table_layout.categories)
        owned = location.owned_keys(system, name)
        if action is ErasureAction.DELETE:
            work.delete = dict.fromkeys(owned)
        elif action is ErasureAction.ANONYMIZE:
            work.anonymize = owned
            work.rules = table_layout.rules
        elif action is ErasureAction.RETAIN:
            keyed = KeyedTable(conn, systems, system, tables[name], work.primary_key, writes)
            work.retain = owned
            work.restriction = table_layout.restriction
            work.withdrawn = table_layout.withdrawn
            for category_id in work.categories:
                kept_dates(
                    keyed,
                    data_map,
                    category_id,
                    owned,
                    partial(work.kept_until.__setitem__, category_id),
                )
        works[name] = work
        if table_layout.side_rules and action in (ErasureAction.DELETE, ErasureAction.ANONYMIZE):
            _split_shared_sides(conn, systems, system, tables[name], location, work, table_layout)
    mention_rules = {
        (t.name, column): rule for t in layout.tables for column, rule in t.mention_rules.items()
    }
    for mention in location.mentions:
        if mention.system != system or mention.table not in works:
            continue
        work = works[mention.table]
        found = mention_rules.get((mention.table, mention.column))
        if found is None:  # the map changed since the subject was located
            continue
        category, rules = found
        deleted = work.delete
        keys = [k for k in mention.keys if k not in deleted]
        if keys:
            work.mentions.append((category, rules, keys))

    blocked = keep_shared_rows(
        conn, data_map, systems, system, location, tables, works, layout.references
    )
    for position, name in enumerate(layout.order, start=1):
        works[name].order = position
    ordered = [works[name] for name in layout.order]
    return _SystemWork(system, ordered, blocked)


def _side_rules(
    data_map: DataMap, system: str, name: str, categories: list[str], table: Table
) -> dict[str, list[ColumnRule]]:
    """Return, per side of a table of shared rows, what erasing that side writes: its columns'
    `anonymize` rules and NULL in its link column (so that the side is known to be gone)."""
    spec = data_map.systems[system].tables[name]
    if not spec.sides:
        return {}
    by_column = {
        rule.name: rule for rule in column_rules(data_map, system, name, categories, table)
    }
    found: dict[str, list[ColumnRule]] = {}
    for side in spec.sides:
        if side.link not in table.c:
            raise ErasurePlanError(
                N_("column `%(column)s` is not in the database of `%(system)s`"),
                column=f"{name}.{side.link}",
                system=system,
            )
        if not table.c[side.link].nullable:
            raise ErasurePlanError(
                N_(
                    "column `%(column)s` of `%(system)s` ties side `%(side)s` to its person but "
                    "is NOT NULL: erasing that side sets it NULL, so it must allow NULL"
                ),
                column=f"{name}.{side.link}",
                system=system,
                side=side.name,
            )
        rules = [by_column[c] for c in side.columns if c in by_column and c != side.link]
        rules.append(ColumnRule(side.link, Anonymize(strategy=AnonymizeStrategy.NULL), False, None))
        found[side.name] = rules
    return found


def _mention_rules(
    data_map: DataMap, system: str, name: str, categories: list[str], table: Table
) -> dict[str, tuple[str, list[ColumnRule]]]:
    """Return, per column of the table that `identifies` people, its category and the rules of
    the columns about that person: its own, and those of the fields `about` it."""
    found: dict[str, tuple[str, list[ColumnRule]]] = {}
    for category_id in categories:
        fields = [f for f in data_map.categories[category_id].fields_in(system) if f.table == name]
        identities = {
            f.name: data_map.identities[f.identifies]
            for f in fields
            if f.identifies in data_map.identities
        }
        if not identities:
            continue
        rules = {r.name: r for r in column_rules(data_map, system, name, [category_id], table)}
        for column, identity in identities.items():
            if column not in rules:
                continue
            # a placeholder in an email column is an address (at erased.invalid)
            email = rules[column].email or identity.kind is IdentityKind.EMAIL
            about = [rules[f.name] for f in fields if f.about == column and f.name in rules]
            found[column] = (category_id, [replace(rules[column], email=email), *about])
    return found


def _split_shared_sides(
    conn: Connection,
    systems: Systems,
    system: str,
    table: Table,
    location: SubjectLocation,
    work: _TableWork,
    layout: _TableLayout,
) -> None:
    """Take out of the table's delete (or anonymise) list the subject's rows in which another
    side is left (its link column not NULL): only the subject's sides of those are anonymised.
    A row with no other side left follows the category's action."""
    match = location.match(system, work.name)
    if match is None:
        return
    owned = list(work.delete) if work.action is ErasureAction.DELETE else list(work.anonymize)
    if not owned:
        return
    links = {name: rules[-1].name for name, rules in layout.side_rules.items()}
    keyed = KeyedTable(conn, systems, system, table, work.primary_key)
    columns = [table.c[c] for c in dict.fromkeys([*work.primary_key, *links.values()])]
    groups: dict[tuple[str, ...], list[Key]] = {}
    for chunk in chunks(owned):
        for row in keyed.rows(
            ("sides", tuple(c.name for c in columns)), partial(select_where, columns), chunk
        ):
            mapping = row._mapping
            key = tuple(mapping[c] for c in work.primary_key)
            mine = match.sides.get(key, ())
            if any(mapping[link] is not None for side, link in links.items() if side not in mine):
                groups.setdefault(mine, []).append(key)
    moved = {key for keys in groups.values() for key in keys}
    if not moved:
        return
    if work.action is ErasureAction.DELETE:
        work.delete = {k: None for k in work.delete if k not in moved}
    else:
        work.anonymize = [k for k in work.anonymize if k not in moved]
    for mine, keys in groups.items():
        rules = [rule for side in mine for rule in layout.side_rules[side]]
        work.sides.append((mine, keys, rules))


def _steps(data_map: DataMap, system: str, works: list[_TableWork]) -> list[PlannedStep]:
    steps: list[PlannedStep] = []
    for work in works:
        for category_id, rules, keys in work.mentions:
            steps.append(
                PlannedStep(
                    system,
                    work.name,
                    category_id,
                    ErasureAction.ANONYMIZE,
                    len(keys),
                    {rule.name: describe_rule(rule.rule) for rule in rules},
                    catalogue_text(MENTION_REASON),
                    None,
                    work.order,
                    kind="mention",
                )
            )
        if work.sides:
            side_rows = sum(len(keys) for _, keys, _ in work.sides)
            side_values = {
                rule.name: describe_rule(rule.rule) for _, _, rules in work.sides for rule in rules
            }
            for category_id in work.categories:
                steps.append(
                    PlannedStep(
                        system,
                        work.name,
                        category_id,
                        ErasureAction.ANONYMIZE,
                        side_rows,
                        side_values,
                        catalogue_text(SIDE_REASON),
                        catalogue_text(SIDE_UNTIL),
                        work.order,
                        kind="side",
                    )
                )
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
                            ErasureAction.RETAIN,
                            len(work.shared),
                            {},
                            catalogue_text(SHARED_REASON),
                            catalogue_text(SHARED_UNTIL),
                        )
                    )
            elif work.action is ErasureAction.ANONYMIZE and work.anonymize:
                described = {
                    f.name: describe_rule(f.anonymize)
                    for f in category.fields_in(system)
                    if f.table == work.name and f.anonymize is not None
                }
                steps.append(step(ErasureAction.ANONYMIZE, len(work.anonymize), described))
            elif work.action is ErasureAction.RETAIN and work.retain:
                restricted = {c: describe_value(v) for c, v in work.restriction.items()}
                steps.append(
                    replace(
                        step(
                            ErasureAction.RETAIN,
                            len(work.retain),
                            restricted,
                            erasure.legal_reason,
                            erasure.until,
                        ),
                        withdrawn=len(work.retain) if work.withdrawn else 0,
                        kept_until=tuple(work.kept_until.get(category_id, [])),
                    )
                )
    return steps


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
    current = PLANNING
    writes: HeldWrites | None = None
    try:
        tables = systems.tables(system)
        with systems.engine(system).connect() as conn, conn.begin():
            # The writes go together where the engine allows it (one round trip on PostgreSQL),
            # each table's after the one before, with the reads of rows as they stand between
            # them (the kept rows' dates, the values to anonymise).
            writes = HeldWrites(conn)
            work = _plan_system(conn, data_map, systems, system, location, writes)
            if work.blocked:
                raise _Blocked(work.blocked)
            for table_work in work.tables:
                current = table_work.name
                _apply(
                    writes,
                    systems,
                    tables[table_work.name],
                    table_work,
                    outcome,
                    secret_key,
                    now,
                    system,
                    batch_size,
                )
            writes.flush()
    except _Blocked as exc:
        blocked = list(exc.args[0])
        error = Phrase(N_("erasure blocked: %(blocked)s"), blocked=joined(blocked))
        return SystemOutcome(system, "failed", error=error, blocked=blocked)
    except ErasurePlanError as exc:
        return SystemOutcome(system, "failed", error=exc.phrase)
    except SystemUnavailable as exc:
        return SystemOutcome(system, "failed", error=str(exc))
    except SQLAlchemyError as exc:
        failed = writes.failed if writes is not None and writes.failed else current
        return SystemOutcome(system, "failed", error=_reason(exc, failed))
    outcome.steps = _steps(data_map, system, work.tables)  # from the plan, once it committed
    return outcome


def _reason(exc: SQLAlchemyError, table_name: str) -> str:
    """Say why a system failed without the SQL or the values (the database's text has both)."""
    where = (
        Phrase(N_("while planning"))
        if table_name == PLANNING
        else Phrase(N_("while changing `%(table)s`"), table=table_name)
    )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Phrase(
            N_("the connection to the database was lost %(where)s; nothing was changed"),
            where=where,
        )
    if isinstance(exc, IntegrityError):
        return Phrase(
            N_("a constraint of the database refused the change %(where)s; nothing was changed"),
            where=where,
        )
    kind = type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
    return Phrase(
        N_("the database failed (%(kind)s) %(where)s; nothing was changed"), kind=kind, where=where
    )


def _apply(
    writes: HeldWrites,
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
    keyed = KeyedTable(writes.conn, systems, system, table, pk, writes)

    def deleted(count: int) -> None:
        outcome.rows_deleted += count

    def anonymised(count: int) -> None:
        outcome.rows_anonymized += count

    def withdrawn(count: int) -> None:
        outcome.rows_withdrawn += count

    for chunk in chunks(list(work.delete), batch_size):
        keyed.run_held("delete", lambda where: delete(table).where(where), chunk, {}, deleted)
    if work.anonymize and work.rules:
        anonymize_rows(
            keyed, work.rules, work.anonymize, secret_key, system, batch_size, anonymised
        )
    for _, keys, rules in work.sides:
        anonymize_rows(keyed, rules, keys, secret_key, system, batch_size, anonymised)
    for _, rules, keys in work.mentions:
        anonymize_rows(keyed, rules, keys, secret_key, system, batch_size, anonymised)
    outcome.rows_retained += len(work.retain) + len(work.shared)
    if work.retain and work.restriction:
        names = list(work.restriction)
        values = {
            f"erasure_value_{i}": now if work.restriction[c] is CHANGE_TIME else work.restriction[c]
            for i, c in enumerate(names)
        }

        def restrict(where: ColumnElement[bool]) -> KeyedStatement:
            done = and_(
                *(
                    table.c[c].is_not(None)
                    if work.restriction[c] is CHANGE_TIME
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

        for chunk in chunks(work.retain, batch_size):
            keyed.run_held(("restrict", tuple(names)), restrict, chunk, values, withdrawn)
