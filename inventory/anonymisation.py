"""The map's column rules, checked against the live schema and applied to rows.

An anonymised category says, per field, what its column becomes (`null`, a `fixed` value, a
`keyed_hash`, the `year_only`, the first characters, a `unique_placeholder`...); a retained one
may set the `restriction` columns of the rows it keeps. `column_rules` and `restriction_columns`
read them for one table and refuse what its columns cannot hold (`ErasurePlanError`);
`anonymize_rows` applies them to batches of rows, set-based; `describe_rule` and `describe_value`
say them in words for a plan. Erasure and retention both apply them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    CHAR,
    Column,
    ColumnElement,
    Dialect,
    Enum,
    String,
    Table,
    UniqueConstraint,
    Update,
    and_,
    bindparam,
    func,
    literal_column,
    not_,
    update,
)

from inventory.keyed import HeldWrites, Key, KeyedTable, chunks, select_where
from inventory.model import Anonymize, AnonymizeStrategy, DataMap, IdentityKind
from inventory.phrases import N_, Phrase

PLACEHOLDER_DOMAIN = "erased.invalid"
PLACEHOLDER_PREFIX = "erased-"
_MIN_PLACEHOLDER_HEX = 12


class ErasurePlanError(ValueError):
    """The map asks for an anonymisation the database cannot hold (NULL in a NOT NULL column...).

    `str(error)` is English (for logs); `phrase` is the same text as a `Phrase` (a message id
    marked with N_ and its parts, which are data), said in the staff's language where shown."""

    def __init__(self, message: str, **parts: str) -> None:
        self.phrase = Phrase(message, **parts)
        super().__init__(str(self.phrase))

    def said(self, gettext: Callable[[str], str]) -> str:
        """Return the message in the language of `gettext`."""
        return self.phrase.said(gettext)


@dataclass
class ColumnRule:
    """How one column is anonymised: the map's rule, whether it holds an email, its length."""

    name: str
    rule: Anonymize
    email: bool
    length: int | None


class ChangeTime:
    """Stands for "the time of the change" in a restriction column (`now: true` in the map)."""


CHANGE_TIME = ChangeTime()


def column_rules(
    data_map: DataMap, system: str, name: str, categories: list[str], table: Table
) -> list[ColumnRule]:
    """Check each anonymised column against the live schema; refuse what it cannot hold."""
    emails = {
        loc.column
        for identity in data_map.identities.values()
        if identity.kind is IdentityKind.EMAIL
        for loc in identity.locations.get(system, [])
    }
    unique = unique_columns(table)
    rules = []
    for category_id in categories:
        for f in data_map.categories[category_id].fields_in(system):
            if f.table != name or f.anonymize is None:
                continue
            if f.name not in table.c:
                raise ErasurePlanError(
                    N_("column `%(column)s` is not in the database of `%(system)s`"),
                    column=f.column,
                    system=system,
                )
            col = table.c[f.name]
            rule = ColumnRule(f.name, f.anonymize, f.column in emails, column_length(col))
            _check_rule(system, f.column, col, rule, f.name in unique)
            rules.append(rule)
    return rules


def _check_rule(system: str, ref: str, col: Column[Any], rule: ColumnRule, unique: bool) -> None:
    strategy = rule.rule.strategy
    where = {"column": ref, "system": system}
    kind = python_type(col)
    if strategy is AnonymizeStrategy.NULL and not col.nullable:
        raise ErasurePlanError(
            N_(
                "column `%(column)s` of `%(system)s` is NOT NULL, but the map anonymises it "
                "with `null`: choose `fixed` or `unique_placeholder`"
            ),
            **where,
        )
    if strategy in (AnonymizeStrategy.FIXED, AnonymizeStrategy.TRUNCATE) and unique:
        raise ErasurePlanError(
            N_(
                "column `%(column)s` of `%(system)s` is UNIQUE: `%(strategy)s` would give "
                "several people the same value; choose `unique_placeholder` or `keyed_hash`"
            ),
            strategy=strategy.value,
            **where,
        )
    if strategy is AnonymizeStrategy.YEAR_ONLY and unique:
        raise ErasurePlanError(
            N_(
                "column `%(column)s` of `%(system)s` is UNIQUE: `year_only` would make values "
                "collide"
            ),
            **where,
        )
    if strategy is AnonymizeStrategy.YEAR_ONLY and not issubclass(kind, date):
        raise ErasurePlanError(
            N_("column `%(column)s` of `%(system)s` holds no date: `year_only` applies to dates"),
            **where,
        )
    textual = (
        AnonymizeStrategy.KEYED_HASH,
        AnonymizeStrategy.TRUNCATE,
        AnonymizeStrategy.UNIQUE_PLACEHOLDER,
    )
    if strategy in textual and kind is not str:
        raise ErasurePlanError(
            N_("column `%(column)s` of `%(system)s` holds no text: `%(strategy)s` writes text"),
            strategy=strategy.value,
            **where,
        )
    if strategy is AnonymizeStrategy.UNIQUE_PLACEHOLDER:
        room = placeholder_room(rule)
        if room < _MIN_PLACEHOLDER_HEX:
            raise ErasurePlanError(
                N_("column `%(column)s` of `%(system)s` is too short to hold a unique placeholder"),
                **where,
            )
    if strategy is AnonymizeStrategy.FIXED:
        try:
            value = coerce(rule.rule.value, kind)
        except ValueError as exc:
            raise ErasurePlanError(
                N_("column `%(column)s` of `%(system)s`: the fixed value does not fit (%(why)s)"),
                why=str(exc),
                **where,
            ) from exc
        if isinstance(value, str) and rule.length is not None and len(value) > rule.length:
            raise ErasurePlanError(
                N_(
                    "column `%(column)s` of `%(system)s`: the fixed value is longer than the column"
                ),
                **where,
            )


def restriction_columns(data_map: DataMap, system: str, name: str, table: Table) -> dict[str, Any]:
    """Return the columns the map's `restriction` sets on this table (column -> value, or
    `CHANGE_TIME`), if it declares any."""
    change = data_map.changes.restriction
    if change is None:
        return {}
    found: dict[str, Any] = {}
    for col in change.set:
        if col.system == system and col.table == name and col.name in table.c:
            value = CHANGE_TIME if col.now else coerce(col.value, python_type(table.c[col.name]))
            found[col.name] = value
    return found


def anonymize_rows(
    keyed: KeyedTable,
    rules: list[ColumnRule],
    keys: Sequence[Key],
    secret_key: bytes,
    system: str,
    batch_size: int,
    counted: Callable[[int], None],
) -> None:
    """Anonymise the rows; tell `counted` how many changed (already anonymised rows are left as
    they are).

    Constant values go in one UPDATE per batch, held with the table's held writes if it has
    some (`KeyedTable.run_held`: `counted` is then told when they are sent). Where the table's
    writes are held on PostgreSQL, the values computed per row that the database can compute
    from the row itself, exactly as `per_row_value` does (`year_only`, `truncate`), are computed
    by the UPDATE, and a placeholder (made from the row's key alone) goes in an UPDATE per row
    held with them: nothing is read, and the rows change in the round trip of the other writes.
    Otherwise (a keyed hash, whose key stays in the desk; another engine) the rows are read and
    changed by an UPDATE per row, after the writes held before them. A row whose every checkable
    column already holds its anonymous value is taken as done, so that a keyed hash is not
    hashed twice; a table whose only changed columns are keyed hashes cannot be checked and is
    hashed again by a rerun.
    """
    table, conn, pk = keyed.table, keyed.conn, keyed.columns
    rules = [r for r in rules if r.rule.strategy is not AnonymizeStrategy.KEEP]
    if not rules:
        return
    constant = {
        r.name: constant_value(r, table.c[r.name])
        for r in rules
        if r.rule.strategy in (AnonymizeStrategy.NULL, AnonymizeStrategy.FIXED)
    }
    per_row = [r for r in rules if r.name not in constant]
    key_params = {c: f"erasure_key_{i}" for i, c in enumerate(pk)}
    computed = _computed_in_place(keyed, per_row)
    if computed is not None:
        names = list(constant)
        from_key = [r.name for r in per_row if r.name not in computed]
        value_params = {c: f"erasure_value_{i}" for i, c in enumerate([*names, *from_key])}
        values = {value_params[c]: constant[c] for c in names}

        def in_place(where: ColumnElement[bool]) -> Update:
            params: dict[str, ColumnElement[Any]] = {
                c: bindparam(p, type_=table.c[c].type) for c, p in value_params.items()
            }
            params.update(computed)
            done = and_(*(table.c[c].is_not_distinct_from(v) for c, v in params.items()))
            return update(table).where(where, not_(done)).values(params)

        kind = ("anonymize-in-place", tuple(value_params), tuple(computed))
        if not from_key:  # set-based: one UPDATE per batch
            for chunk in chunks(keys, batch_size):
                keyed.run_held(kind, in_place, chunk, values, counted)
            return
        where = and_(*(table.c[c] == bindparam(p) for c, p in key_params.items()))
        sql = keyed.systems.driver_sql(
            (*keyed.cache, kind), lambda: str(in_place(where).compile(dialect=conn.dialect))
        )
        held_writes = cast(HeldWrites, keyed.writes)  # `_computed_in_place` said it holds them
        rule_of = {r.name: r for r in per_row}
        bound = _bound_as(conn.dialect, table)
        constants = {value_params[c]: bound(c, constant[c]) for c in names}
        for key in keys:
            param = {key_params[c]: bound(c, v) for c, v in zip(pk, key, strict=True)}
            param.update(constants)
            for c in from_key:
                value = per_row_value(rule_of[c], None, key, secret_key, system, table)
                param[value_params[c]] = bound(c, value)
            held_writes.hold_sql(table.name, sql, param, counted)
        return
    value_params = {r.name: f"erasure_value_{i}" for i, r in enumerate(rules)}
    column_of = {p: c for params in (key_params, value_params) for c, p in params.items()}

    def by_key() -> Update:
        return (
            update(table)
            .where(*(table.c[c] == bindparam(p) for c, p in key_params.items()))
            .values({c: bindparam(p) for c, p in value_params.items()})
        )

    stmt = keyed.systems.statement((*keyed.cache, "anonymize-rows", tuple(value_params)), by_key)
    cols = [table.c[c] for c in dict.fromkeys([*pk, *(r.name for r in rules)])]
    names = [c.name for c in cols]
    checkable = [r.name for r in rules if r.rule.strategy is not AnonymizeStrategy.KEYED_HASH]
    writes = keyed.writes
    held = writes if writes is not None and writes.pipelined else None
    bound = _bound_as(conn.dialect, table)
    sql = (
        keyed.systems.driver_sql(
            (*keyed.cache, "anonymize-rows", tuple(value_params)),
            lambda: str(by_key().compile(dialect=conn.dialect)),
        )
        if held is not None
        else ""
    )

    def change(rows: Sequence[Sequence[Any]]) -> None:
        params: list[dict[str, Any]] = []
        for row in rows:
            mapping = dict(zip(names, row, strict=True))
            key = tuple(mapping[c] for c in pk)
            new = dict(constant)
            for r in per_row:
                new[r.name] = per_row_value(r, mapping[r.name], key, secret_key, system, table)
            if checkable and all(_same(mapping[c], new[c]) for c in checkable):
                continue
            param = {key_params[c]: mapping[c] for c in pk}
            param.update({value_params[c]: v for c, v in new.items()})
            params.append(param)
        if held is not None:  # with the held writes: the next round trip carries them
            for param in params:
                sent = {name: bound(column_of[name], v) for name, v in param.items()}
                held.hold_sql(table.name, sql, sent, counted)
            return
        if len(params) == 1:
            conn.execute(stmt, params[0])
        elif params:
            conn.execute(stmt, params)
        counted(len(params))

    # The rows are read as they stand after the writes held before (in their round trip, where
    # the table has held writes), and changed before anything held after.
    read = partial(select_where, cols)
    for chunk in chunks(keys, batch_size):
        keyed.rows_then(("anonymize-read", tuple(names)), read, chunk, change, holds_more=True)


def _computed_in_place(
    keyed: KeyedTable, per_row: Sequence[ColumnRule]
) -> dict[str, ColumnElement[Any]] | None:
    """Return the SQL that computes each per-row rule other than a placeholder from the row
    itself (`year_only` on a date or time column, `truncate` on a text one), when every per-row
    rule can do without reading the row: none (nothing is computed per row), or the table's
    writes held on PostgreSQL and no keyed hash. None: the rows are read first."""
    if not per_row:
        return {}
    writes = keyed.writes
    table = keyed.table
    if writes is None or not writes.pipelined:
        return None
    found: dict[str, ColumnElement[Any]] = {}
    for rule in per_row:
        column = table.c[rule.name]
        strategy = rule.rule.strategy
        if strategy is AnonymizeStrategy.YEAR_ONLY and issubclass(python_type(column), date):
            found[rule.name] = func.date_trunc(literal_column("'year'"), column, type_=column.type)
        elif (
            strategy is AnonymizeStrategy.TRUNCATE
            and rule.rule.length is not None
            and isinstance(column.type, String)
            and not isinstance(column.type, CHAR | Enum)
        ):
            found[rule.name] = func.left(
                column, literal_column(str(int(rule.rule.length))), type_=column.type
            )
        elif strategy is not AnonymizeStrategy.UNIQUE_PLACEHOLDER:
            return None
    return found


def _bound_as(dialect: Dialect, table: Table) -> Callable[[str, Any], Any]:
    """Return what gives the driver a value of a column of `table` as SQLAlchemy would (its
    type's bind processor, a Boolean's check say): held driver SQL skips SQLAlchemy's own."""
    processors: dict[str, Callable[[Any], Any] | None] = {}

    def bound(column: str, value: Any) -> Any:
        if column not in processors:
            processors[column] = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        processor = processors[column]
        return value if processor is None else processor(value)

    return bound


def _same(current: object, new: object) -> bool:
    if (
        isinstance(current, datetime)
        and isinstance(new, datetime)
        and (current.tzinfo is None) != (new.tzinfo is None)
    ):
        return current.replace(tzinfo=None) == new.replace(tzinfo=None)
    return current == new


def constant_value(rule: ColumnRule, col: Column[Any]) -> Any:
    """Return the value a `null` or `fixed` rule writes, in the column's type."""
    if rule.rule.strategy is AnonymizeStrategy.NULL:
        return None
    return coerce(rule.rule.value, python_type(col))


def per_row_value(
    rule: ColumnRule, value: Any, key: Key, secret_key: bytes, system: str, table: Table
) -> Any:
    """Return what a rule computed per row makes of `value`, the column's value in row `key`."""
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
    room = placeholder_room(rule)
    tail = f"@{PLACEHOLDER_DOMAIN}" if rule.email else ""
    return f"{PLACEHOLDER_PREFIX}{digest[: min(room, 32)]}{tail}"


def placeholder_room(rule: ColumnRule) -> int:
    """Return how many hex characters of a placeholder the column can hold."""
    fixed = len(PLACEHOLDER_PREFIX) + (len(PLACEHOLDER_DOMAIN) + 1 if rule.email else 0)
    return 64 if rule.length is None else rule.length - fixed


RULE_WORDS: dict[AnonymizeStrategy, str] = {
    AnonymizeStrategy.KEEP: N_("kept as is"),
    AnonymizeStrategy.NULL: "NULL",
    AnonymizeStrategy.KEYED_HASH: N_("keyed hash (pseudonymisation)"),
    AnonymizeStrategy.YEAR_ONLY: N_("year only"),
    AnonymizeStrategy.UNIQUE_PLACEHOLDER: N_("unique placeholder"),
}
"""What a rule without a parameter makes of a column (message ids; NULL is said as it is)."""


def describe_rule(rule: Anonymize) -> str:
    """Say what a rule makes of a column, for staff reading a plan (a `Phrase`: said in their
    language where it is shown)."""
    strategy = rule.strategy
    if strategy is AnonymizeStrategy.FIXED:
        return Phrase(N_("fixed: %(value)s"), value=describe_value(rule.value))
    if strategy is AnonymizeStrategy.TRUNCATE:
        return Phrase(N_("first %(length)s characters"), length=str(rule.length))
    return Phrase(RULE_WORDS[strategy])


def describe_value(value: object) -> str:
    """Say a value the map writes (`CHANGE_TIME`, NULL, a boolean...) as staff read it; a value
    written to a column (a boolean's `true`) stays as the column receives it."""
    if value is CHANGE_TIME:
        return Phrase(N_("time of the erasure"))
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def python_type(col: Column[Any]) -> type:
    """Return the Python type of a column's values (`str` when the type does not say)."""
    try:
        kind: type = col.type.python_type
    except NotImplementedError:
        return str
    return kind


def column_length(col: Column[Any]) -> int | None:
    """Return the column's maximum length, if its type has one."""
    length = getattr(col.type, "length", None)
    return length if isinstance(length, int) else None


def coerce(value: object, kind: type) -> Any:
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
        return describe_value(value) if isinstance(value, bool) else str(value)
    if issubclass(kind, datetime):
        return datetime.fromisoformat(str(value))
    if issubclass(kind, date):
        return date.fromisoformat(str(value))
    return value


def unique_columns(table: Table) -> set[str]:
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
