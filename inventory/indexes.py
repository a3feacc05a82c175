"""Say which of the locator's lookups no index serves, and the statement that would create one.

The locator finds a person by identity columns (an email compared as `lower(email) = :value`) and
follows links by `column IN (:values)`. On a real schema a lookup no index serves reads the whole
table for every request (40 ms at 100,000 learners, twice per erasure): `map check --live` names
each one with the `CREATE INDEX` that serves it, in the system's dialect. A column the map declares
`normalised` is matched as stored, so a plain index serves it; the check also says when such a
column holds values that are not normalised (the locator would miss those rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, LargeBinary, Table, cast, func, inspect, literal, select, text
from sqlalchemy.exc import SQLAlchemyError

from inventory.locator import compared_form
from inventory.model import DataMap, IdentityKind
from inventory.systems import Systems

Loc = tuple[str | int, ...]

_NAME_LIMIT = 63
"""The longest index name PostgreSQL keeps (MariaDB allows 64)."""


@dataclass(frozen=True)
class Lookup:
    """One way the locator searches a table: by an identity column or by a link's column.

    `folded` is the identity's kind when the column is compared in a normal form (`lower(email)`,
    a phone number without separators), None when it is compared as stored."""

    system: str
    table: str
    column: str
    what: str
    loc: Loc
    folded: IdentityKind | None = None


@dataclass(frozen=True)
class IndexWarning:
    """Something `map check --live` says about a lookup; `loc` is its entry in the map."""

    system: str
    loc: Loc
    message: str


def lookups(data_map: DataMap, system: str) -> list[Lookup]:
    """Return every lookup the locator makes in `system`, in map order: identities, then links."""
    found: list[Lookup] = []
    for name, identity in data_map.identities.items():
        folds = identity.kind in (IdentityKind.EMAIL, IdentityKind.PHONE)
        for n, location in enumerate(identity.locations.get(system, [])):
            table, column = location.column.split(".", 1)
            found.append(
                Lookup(
                    system,
                    table,
                    column,
                    f"identity `{name}`",
                    ("identities", name, "locations", system, n, "column"),
                    identity.kind if folds and not location.normalised else None,
                )
            )
    for table_name, table_spec in data_map.systems[system].tables.items():
        for n, link in enumerate(table_spec.links):
            found.append(
                Lookup(
                    system,
                    table_name,
                    link.column,
                    f"the link from `{table_name}.{link.column}` to `{link.to}`",
                    ("systems", system, "tables", table_name, "links", n, "column"),
                )
            )
    return found


def index_warnings(data_map: DataMap, systems: Systems) -> list[IndexWarning]:
    """Return, for every system that can be read, the lookups no index serves and the columns
    declared normalised that hold values which are not. A table or column missing from the
    database is left to `inventory.live.check_live`, which reports it as an error."""
    warnings: list[IndexWarning] = []
    for system in data_map.systems:
        try:
            warnings.extend(_system_warnings(data_map, systems, system))
        except SQLAlchemyError:
            continue  # `check_live` says the system cannot be read
    return warnings


def _system_warnings(data_map: DataMap, systems: Systems, system: str) -> Iterator[IndexWarning]:
    engine = systems.engine(system)
    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    heads: dict[str, set[str]] = {}
    columns: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for lookup in lookups(data_map, system):
            if lookup.table not in existing:
                continue
            if lookup.table not in heads:
                columns[lookup.table] = {c["name"] for c in inspector.get_columns(lookup.table)}
                heads[lookup.table] = _index_heads(conn, inspector, lookup.table)
            if lookup.column not in columns[lookup.table]:
                continue
            message = _unserved(lookup, heads[lookup.table], conn)
            if message is not None:
                yield IndexWarning(system, lookup.loc, message)
        yield from _not_normalised(data_map, systems, system, conn, columns)


def _unserved(lookup: Lookup, heads: set[str], conn: Connection) -> str | None:
    """Return what to say about a lookup no index serves, or None when one does."""
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    table, column = lookup.table, lookup.column
    plain = _canonical(column) in heads
    plain_index = (
        f"CREATE INDEX {quote(_index_name(table, column))} ON {quote(table)} ({quote(column)});"
    )
    finds = f"{lookup.what} finds rows of `{table}`"
    whole = "which no index serves: every lookup reads the whole table"
    if lookup.folded is None:
        return None if plain else f"{finds} by `{column}`, {whole}. Create one: {plain_index}"
    normalise = (
        "store the addresses lower-case and trimmed"
        if lookup.folded is IdentityKind.EMAIL
        else "store the numbers without spaces or separators"
    )
    declare = f"{normalise} and declare `normalised: true` on this location"
    then = " (its index then serves the lookup)." if plain else f", then index it: {plain_index}"
    if lookup.folded is IdentityKind.PHONE:
        return f"{finds} by `{column}` without its separators, {whole}. To fix it, {declare}{then}"
    if f"lower({_canonical(column)})" in heads:
        return None
    if dialect.name not in ("postgresql", "sqlite", "mysql") or getattr(
        dialect, "is_mariadb", False
    ):
        server = "MariaDB" if getattr(dialect, "is_mariadb", False) else dialect.name
        return (
            f"{finds} by lower(`{column}`), which {server} cannot index: every lookup reads "
            f"the whole table. To fix it, {declare}{then}"
        )
    name = quote(_index_name(table, f"lower_{column}"))
    key = f"lower({quote(column)})"
    if dialect.name == "mysql":
        key = f"({key})"  # MySQL 8 writes a functional key part in its own parentheses
    expression_index = f"CREATE INDEX {name} ON {quote(table)} ({key});"
    plain_note = " (the index on the column itself does not serve it)" if plain else ""
    return (
        f"{finds} by lower(`{column}`){plain_note}, {whole}. Create the expression index: "
        f"{expression_index} Or {declare}."
    )


def _not_normalised(
    data_map: DataMap,
    systems: Systems,
    system: str,
    conn: Connection,
    columns: dict[str, set[str]],
) -> Iterator[IndexWarning]:
    """Say which columns declared normalised hold a value that is not, with one cheap query each
    (`... WHERE column <> lower(trim(column)) LIMIT 1`); the values themselves are never shown."""
    for name, identity in data_map.identities.items():
        for n, location in enumerate(identity.locations.get(system, [])):
            table_name, column_name = location.column.split(".", 1)
            if not location.normalised or column_name not in columns.get(table_name, set()):
                continue
            table = systems.tables(system)[table_name]
            if not _holds_unnormalised(conn, table, column_name, identity.kind):
                continue
            form = (
                "lower-case and trimmed"
                if identity.kind is IdentityKind.EMAIL
                else "without spaces or separators"
            )
            yield IndexWarning(
                system,
                ("identities", name, "locations", system, n, "normalised"),
                f"identity `{name}` declares `{location.column}` normalised, but some of its "
                f"values are not stored {form}: the locator compares them as stored and misses "
                "those rows. Normalise the stored values, or remove `normalised: true`.",
            )


def _holds_unnormalised(conn: Connection, table: Table, column: str, kind: IdentityKind) -> bool:
    stored: Any = table.c[column]
    normal: Any = compared_form(func.trim(stored), kind)
    if conn.dialect.name in ("mysql", "mariadb"):
        # Compare bytes: the usual collations ignore case and trailing spaces.
        stored, normal = cast(stored, LargeBinary), cast(normal, LargeBinary)
    query = select(literal(1)).select_from(table).where(stored != normal).limit(1)
    return conn.execute(query).first() is not None


def _index_heads(conn: Connection, inspector: Any, table: str) -> set[str]:
    """Return the first part of every index of `table` that can serve an equality lookup, as
    canonical text (`email`, `lower(email)`): the primary key and unique constraints included,
    partial indexes left out (they serve only the rows their condition names)."""
    heads: set[str] = set()
    primary = inspector.get_pk_constraint(table).get("constrained_columns") or []
    if primary:
        heads.add(_canonical(primary[0]))
    if conn.dialect.name == "sqlite":
        return heads | _sqlite_heads(conn, table)
    for index in inspector.get_indexes(table):
        options = index.get("dialect_options", {})
        if options.get("postgresql_where") or options.get("postgresql_using") not in (
            None,
            "btree",
            "hash",
        ):
            continue
        first = index["column_names"][0] if index["column_names"] else None
        if first is None and index.get("expressions"):
            first = index["expressions"][0]
        if first is not None:
            heads.add(_canonical(first))
    for unique in inspector.get_unique_constraints(table):
        if unique["column_names"]:
            heads.add(_canonical(unique["column_names"][0]))
    return heads


def _sqlite_heads(conn: Connection, table: str) -> set[str]:
    """Read SQLite's catalogue: its dialect skips expression indexes (with a warning) and the
    automatic indexes of UNIQUE columns."""
    heads: set[str] = set()
    quoted = conn.dialect.identifier_preparer.quote
    for index in conn.exec_driver_sql(f"PRAGMA index_list({quoted(table)})").mappings():
        if index["partial"]:
            continue
        parts = conn.exec_driver_sql(f"PRAGMA index_xinfo({quoted(index['name'])})").mappings()
        first = next((p for p in parts if p["seqno"] == 0), None)
        if first is None:
            continue
        if first["cid"] >= 0:
            heads.add(_canonical(first["name"]))
            continue
        sql = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"),
            {"name": index["name"]},
        ).scalar()
        expression = _first_indexed_expression(sql or "")
        if expression:
            heads.add(_canonical(expression))
    return heads


def _first_indexed_expression(create_index: str) -> str | None:
    """Return the first key of a `CREATE INDEX name ON table (key, ...)` statement."""
    match = re.search(r"\bON\b[^(]*\(", create_index, re.IGNORECASE)
    if match is None:
        return None
    depth, start = 0, match.end()
    for i in range(start, len(create_index)):
        char = create_index[i]
        if char in ",)" and depth == 0:
            key = create_index[start:i].strip()
            return re.sub(r"\s+(COLLATE\s+\S+|ASC|DESC)\s*$", "", key, flags=re.IGNORECASE)
        depth += {"(": 1, ")": -1}.get(char, 0)
    return None


def _canonical(expression: str) -> str:
    """Write an indexed column or expression one way whatever the catalogue's spelling:
    PostgreSQL's `lower((email)::text)` and SQLite's `lower("email")` are both `lower(email)`."""
    canonical = re.sub(r'["`\[\]\s]', "", expression.lower())
    canonical = re.sub(r"::[a-z_]+(\(\d+\))?", "", canonical)
    while True:
        unwrapped = re.sub(r"(?<![\w)])\(([\w.]+)\)", r"\1", canonical)
        if unwrapped == canonical:
            return canonical
        canonical = unwrapped


def _index_name(table: str, what: str) -> str:
    return f"ix_{table}_{what}"[:_NAME_LIMIT]
