"""Statements on a batch of keys (`WHERE key IN (...)`), built once per map and table.

The locator, the collection and the erasure run the same few statements for every subject, each
on batches of keys. `run_keyed` builds such a statement once per cache key (see
`Systems.statement`): on PostgreSQL a single-column key goes as one array, `key = ANY(%(keys)s)`,
rendered once and sent as driver SQL, so that no statement is compiled or expanded per batch
(that was most of a typical subject's time, more than the database's own work); elsewhere, and
for composite keys, the statement holds an expanding parameter.

A read that may bring any number of rows (one learner's million tracking events through one
link value) goes through `stream_keyed`, which holds at most `CHUNK` rows at a time.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Delete,
    Dialect,
    Row,
    Select,
    Table,
    Tuple,
    Update,
    bindparam,
    exc,
    false,
    func,
    select,
    tuple_,
)
from sqlalchemy import cast as sql_cast

from inventory.pool import streams_in_chunks
from inventory.systems import Systems

Key = tuple[Any, ...]
"""The values of a row's key columns, in their order."""

CHUNK = 1000
"""How many keys one statement carries."""

KEYS = "keys"
"""The name of the parameter that carries a batch of keys."""

_T = TypeVar("_T")

KeyedStatement = Delete | Update | Select[Any]
KeyedBuild = Callable[[ColumnElement[bool]], KeyedStatement]
"""Builds a statement from the condition that picks the batch's rows."""


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Yield `values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def select_where(columns: Sequence[ColumnElement[Any]], where: ColumnElement[bool]) -> Select[Any]:
    """Build `SELECT columns WHERE where` (a `KeyedBuild` once `columns` are given)."""
    return select(*columns).where(where)


def key_in(table_: Any, columns: Sequence[str], keys: Sequence[Key]) -> ColumnElement[bool]:
    """Return `columns IN keys` with the keys inline, for a statement run once (a tuple
    comparison for composite keys)."""
    if not keys:
        return false()
    if len(columns) == 1:
        return table_.c[columns[0]].in_([k[0] for k in keys])  # type: ignore[no-any-return]
    return tuple_(*(table_.c[c] for c in columns)).in_(list(keys))


def run_keyed(
    conn: Connection,
    systems: Systems,
    cache_key: tuple[Hashable, ...],
    build: KeyedBuild,
    key: ColumnElement[Any],
    values: Sequence[Any],
    params: Mapping[str, Any] | None = None,
) -> CursorResult[Any]:
    """Run `build(key IN values)`, building its statement once per `cache_key` (see `Systems`).

    `key` is a column (values are scalars) or a tuple of columns (values are tuples); `params`
    are the statement's other parameters.
    """
    bound = {KEYS: list(values), **(params or {})}
    if conn.dialect.name == "postgresql" and not isinstance(key, Tuple):
        return conn.exec_driver_sql(keyed_sql(conn, systems, cache_key, build, key), bound)
    statement = systems.statement(cache_key, partial(_expanding, build, key))
    return conn.execute(statement, bound)


def stream_keyed(
    conn: Connection,
    systems: Systems,
    cache_key: tuple[Hashable, ...],
    build: Callable[[ColumnElement[bool]], Select[Any]],
    key: ColumnElement[Any],
    values: Sequence[Any],
) -> Iterable[Sequence[Any]]:
    """Run the query `build(key IN values)` as `run_keyed` does, for a read whose size nothing
    tells in advance: its rows are read as they come, never more than `CHUNK` of them in memory.

    A plain query's whole result is buffered by the driver (libpq, PyMySQL) before its first row
    is read: for a million rows, tens of megabytes. On PostgreSQL the statement goes in libpq's
    chunked mode (`psycopg` `Cursor.stream`): one round trip, as a plain query, for a small result;
    elsewhere as the dialect streams (PyMySQL's unbuffered cursor; SQLite reads lazily anyway).
    The whole result must be read (or the iterator closed) before the connection runs anything
    else.
    """
    if conn.dialect.name == "postgresql" and not isinstance(key, Tuple) and streams_in_chunks():
        sql = keyed_sql(conn, systems, cache_key, build, key)
        return _stream_postgresql(conn, sql, {KEYS: list(values)})
    statement = systems.statement(cache_key, partial(_expanding, build, key))
    options = {"stream_results": True, "max_row_buffer": CHUNK}
    return conn.execute(statement, {KEYS: list(values)}, execution_options=options)


_STREAMED: weakref.WeakSet[Any] = weakref.WeakSet()
"""Driver connections whose last query went in libpq's chunked mode (see `run_pipelined`)."""


def _stream_postgresql(conn: Connection, sql: str, bound: dict[str, Any]) -> Iterator[Any]:
    """Yield the rows of `sql` read in libpq's chunked mode on the connection's own driver
    connection, in its transaction; the engine's statement events are told, as for any query,
    and a driver error is raised as SQLAlchemy's (as `Connection.execute` would)."""
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor()
    dispatch = conn.dispatch
    dispatch.before_cursor_execute(conn, cursor, sql, bound, None, False)
    _STREAMED.add(driver)  # see `run_pipelined`
    try:
        with cursor:
            rows = cursor.stream(sql, bound, size=CHUNK)
            dispatch.after_cursor_execute(conn, cursor, sql, bound, None, False)
            yield from rows
    except conn.dialect.loaded_dbapi.Error as error:
        raise _database_error(conn, error, sql, bound, cursor) from error


def _database_error(
    conn: Connection, error: Any, sql: str, bound: dict[str, Any], cursor: Any
) -> Exception:
    """The SQLAlchemy error `Connection.execute` raises for a driver `error`, the connection
    invalidated when the error says it is lost."""
    invalidated = conn.dialect.is_disconnect(error, conn.connection.driver_connection, cursor)
    if invalidated:
        conn.invalidate(error)
    return cast(
        Exception,
        exc.DBAPIError.instance(
            sql,
            bound,
            error,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated,
            dialect=conn.dialect,
        ),
    )


def run_pipelined(
    conn: Connection, statements: Sequence[tuple[str, dict[str, Any]]]
) -> list[list[tuple[Any, ...]]]:
    """Run driver SQL `statements` (PostgreSQL) in one libpq pipeline on the connection's own
    driver connection, in its transaction, and return each one's rows: the server runs each
    while the rows of the one before travel back, one round trip for all. The engine's statement
    events are told, as for any query; a driver error is raised as SQLAlchemy's."""
    return _pipelined(conn, statements, lambda cursor: cursor.fetchall())


def _pipelined(
    conn: Connection,
    statements: Sequence[tuple[str, dict[str, Any]]],
    take: Callable[[Any], _T],
    failed: Callable[[int], None] | None = None,
) -> list[_T]:
    driver: Any = conn.connection.driver_connection
    dispatch = conn.dispatch
    cursors: list[Any] = []
    try:
        if driver in _STREAMED:
            # After a query in chunked mode, libpq gives the next pipeline's first result in
            # chunks too, which psycopg refuses ("unexpected result status: TUPLES_CHUNK"): a
            # pipeline's sync with nothing in it ends that mode.
            with driver.pipeline():
                pass
            _STREAMED.discard(driver)
        with driver.pipeline():
            for sql, bound in statements:
                cursor = driver.cursor()
                dispatch.before_cursor_execute(conn, cursor, sql, bound, None, False)
                cursor.execute(sql, bound)
                cursors.append(cursor)
        found = []
        for (sql, bound), cursor in zip(statements, cursors, strict=True):
            found.append(take(cursor))
            dispatch.after_cursor_execute(conn, cursor, sql, bound, None, False)
        return found
    except conn.dialect.loaded_dbapi.Error as error:
        # The statement that failed is the first without a result (those after it were skipped)
        at = next((i for i, c in enumerate(cursors) if not _succeeded(c)), len(cursors))
        at = min(at, len(statements) - 1)
        if failed is not None:
            failed(at)
        sql, bound = statements[at]
        raise _database_error(conn, error, sql, bound, None) from error
    finally:
        for cursor in cursors:
            cursor.close()


def _succeeded(cursor: Any) -> bool:
    from psycopg.pq import ExecStatus  # noqa: PLC0415 (only PostgreSQL systems need it)

    result = cursor.pgresult
    return result is not None and result.status in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK)


class HeldWrites:
    """Keyed statements held back on a connection to be sent together: on PostgreSQL they go in
    one libpq pipeline (one round trip for all, and none of SQLAlchemy's work per statement) when
    `flush` is called, which a `KeyedTable` given them does before it runs anything else on the
    connection; elsewhere each runs at once. The caller flushes before the transaction ends.

    Mostly writes: each write's count of changed rows is given to its `counted` once it ran;
    `failed`, after an error, names the table of the statement that failed (`PLANNING` for a
    read held to plan). A read can be held too (`KeyedTable.rows_then`), its rows given to its
    `take` once they came back: the reads an erasure makes of rows as they stand between its
    writes (the dates of the rows it keeps, the values it anonymises) travel with those writes
    instead of each in a round trip of its own. A `take` may hold more statements; those held
    after a read whose `take` may do so wait for it (they are sent after what it holds), so
    that everything runs in the order it was held."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pipelined = conn.dialect.name == "postgresql"
        self.failed: str | None = None
        self._held: list[_Held] = []
        self._waiting = False  # a held read's `take` may hold more: send before holding again

    def hold(
        self,
        keyed: KeyedTable,
        kind: Hashable,
        build: KeyedBuild,
        keys: Sequence[Key],
        params: Mapping[str, Any],
        counted: Callable[[int], None],
    ) -> None:
        """Hold `build(key IN keys)` on `keyed`'s rows (run it now where nothing is held)."""
        if not (self.pipelined and keys):  # else it runs now
            self.flush()
            counted(int(keyed.execute(kind, build, keys, dict(params)).rowcount))
            return
        self._hold_keyed(keyed, kind, build, keys, params, partial(_counted, counted))

    def hold_read(
        self,
        keyed: KeyedTable,
        kind: Hashable,
        build: KeyedBuild,
        keys: Sequence[Key],
        take: Callable[[Sequence[Sequence[Any]]], None],
        *,
        holds_more: bool,
        during: str | None = None,
    ) -> None:
        """Hold the query `build(key IN keys)` on `keyed`'s rows and give its rows (tuples, in
        the query's column order) to `take` once it ran; `holds_more`: `take` may hold more
        statements, and those held after this read wait for it; `during`: what `failed` says if
        the read fails (the table's name unless given; `PLANNING` for a read that plans). Run it
        now where nothing is held."""
        if not (self.pipelined and keys):  # else it runs now
            take(keyed.rows(kind, build, keys))
            return
        self._hold_keyed(keyed, kind, build, keys, {}, partial(_fetched, take), during)
        self._waiting = holds_more

    def hold_sql(
        self, table: str, sql: str, bound: dict[str, Any], counted: Callable[[int], None]
    ) -> None:
        """Hold a write given as driver SQL (PostgreSQL only: see `pipelined`)."""
        if not self.pipelined:
            raise ValueError("driver SQL is held on PostgreSQL only")
        self._append((sql, bound, partial(_counted, counted), table))

    def _hold_keyed(
        self,
        keyed: KeyedTable,
        kind: Hashable,
        build: KeyedBuild,
        keys: Sequence[Key],
        params: Mapping[str, Any],
        then: Callable[[_Result], None],
        during: str | None = None,
    ) -> None:
        sql = keyed_sql(self.conn, keyed.systems, (*keyed.cache, kind), build, keyed.key)
        self._append((sql, {**keys_bound(keys), **params}, then, during or keyed.table.name))

    def _append(self, held: _Held) -> None:
        """Hold a statement, after sending what is held first when a held read's `take` may
        hold what must run before it."""
        if self._waiting:
            self.flush()
        self._held.append(held)

    def flush(self) -> None:
        """Send what is held, in the order it was held (and what the reads' `take` hold)."""
        while self._held:
            held, self._held = self._held, []
            self._waiting = False

            def failed(index: int, held: list[_Held] = held) -> None:
                self.failed = held[index][3]

            statements = [(sql, bound) for sql, bound, _, _ in held]
            results = _pipelined(self.conn, statements, _result, failed)
            for (_, _, then, _), result in zip(held, results, strict=True):
                then(result)


PLANNING = "planning"
"""What `HeldWrites.failed` says of a read held to plan the writes (not to change a table)."""

_Result = tuple[list[tuple[Any, ...]], int]
"""What a held statement gave: its rows (a query's), how many rows it changed (a write's)."""
_Held = tuple[str, dict[str, Any], Callable[[_Result], None], str]
"""A held statement: its driver SQL, its parameters, what is told its result, its table."""


def _result(cursor: Any) -> _Result:
    return (cursor.fetchall() if cursor.description is not None else [], int(cursor.rowcount))


def _counted(counted: Callable[[int], None], result: _Result) -> None:
    counted(result[1])


def _fetched(take: Callable[[Sequence[Sequence[Any]]], None], result: _Result) -> None:
    take(result[0])


def keyed_sql(
    conn: Connection,
    systems: Systems,
    cache_key: tuple[Hashable, ...],
    build: KeyedBuild,
    key: ColumnElement[Any],
    *,
    limit: int | None = None,
) -> str:
    """The PostgreSQL driver SQL of `build(key = ANY(%(keys)s))`, at most `limit` rows, rendered
    once per cache key (see `Systems.driver_sql`); for a composite key (a tuple of columns),
    `build(key IN (SELECT * FROM unnest(%(keys_0)s, %(keys_1)s...)))`, the arrays cast to the
    columns' types. `keys_bound` gives the parameters."""
    tag = "any" if limit is None else f"any-{limit:d}"
    return systems.driver_sql(
        (*cache_key, tag), partial(_render_any, conn.dialect, build, key, limit)
    )


def _render_any(
    dialect: Dialect, build: KeyedBuild, key: ColumnElement[Any], limit: int | None
) -> str:
    where: ColumnElement[bool]
    if isinstance(key, Tuple):  # a composite key: one array per column, unnested side by side
        from sqlalchemy.dialects.postgresql import ARRAY  # noqa: PLC0415 (PostgreSQL only)

        columns = list(key.clauses)
        arrays = [
            sql_cast(bindparam(composite_keys(i)), ARRAY(column.type))
            for i, column in enumerate(columns)
        ]
        names = [f"k{i}" for i in range(len(columns))]
        pairs = func.unnest(*arrays).table_valued(*names).render_derived()
        where = key.in_(select(*pairs.c))
    else:
        where = key == func.any(bindparam(KEYS))
    sql = str(build(where).compile(dialect=dialect))
    return sql if limit is None else f"{sql} LIMIT {limit:d}"


def composite_keys(index: int) -> str:
    """The name of the parameter that carries the `index`th column of a batch of composite keys
    in PostgreSQL driver SQL (see `keyed_sql`)."""
    return f"{KEYS}_{index:d}"


def keys_bound(keys: Sequence[Key]) -> dict[str, list[Any]]:
    """The parameters that carry a batch of keys in PostgreSQL driver SQL (see `keyed_sql`)."""
    width = len(keys[0]) if keys else 1
    if width == 1:
        return {KEYS: [k[0] for k in keys]}
    return {composite_keys(i): [k[i] for k in keys] for i in range(width)}


def _expanding(build: KeyedBuild, key: ColumnElement[Any]) -> KeyedStatement:
    return build(key.in_(bindparam(KEYS, expanding=True)))


class KeyedTable:
    """Runs statements on one table's rows picked by batches of keys of `columns` (usually its
    primary key), each statement built once per `kind` (see `run_keyed`)."""

    def __init__(
        self,
        conn: Connection,
        systems: Systems,
        system: str,
        table: Table,
        columns: tuple[str, ...],
        writes: HeldWrites | None = None,
    ) -> None:
        self.conn, self.systems, self.system = conn, systems, system
        self.table, self.columns = table, columns
        self.writes = writes
        self.cache = ("keyed", system, table.name, columns)
        self.key: ColumnElement[Any] = (
            table.c[columns[0]] if len(columns) == 1 else tuple_(*(table.c[c] for c in columns))
        )

    def run(
        self,
        kind: Hashable,
        build: KeyedBuild,
        keys: Sequence[Key],
        params: dict[str, Any] | None = None,
    ) -> int:
        """Run the statement on the rows of `keys`; return how many rows it changed."""
        return int(self.execute(kind, build, keys, params or {}).rowcount)

    def run_held(
        self,
        kind: Hashable,
        build: KeyedBuild,
        keys: Sequence[Key],
        params: Mapping[str, Any],
        counted: Callable[[int], None],
    ) -> None:
        """Run the write on the rows of `keys` with the held writes, if the table was given
        some (see `HeldWrites`), else now; `counted` is given how many rows it changed."""
        if self.writes is None:
            counted(self.run(kind, build, keys, dict(params)))
        else:
            self.writes.hold(self, kind, build, keys, params, counted)

    def rows(self, kind: Hashable, build: KeyedBuild, keys: Sequence[Key]) -> Sequence[Row[Any]]:
        """Run the query on the rows of `keys`; return what it read."""
        return self.execute(kind, build, keys, {}).fetchall()

    def rows_then(
        self,
        kind: Hashable,
        build: KeyedBuild,
        keys: Sequence[Key],
        take: Callable[[Sequence[Sequence[Any]]], None],
        *,
        holds_more: bool = False,
        during: str | None = None,
    ) -> None:
        """Read the rows of `keys` with the held writes, if the table was given some (after
        those held before it, in their round trip: see `HeldWrites.hold_read`), else now; give
        them to `take` (tuples, in the query's column order)."""
        if self.writes is None:
            take(self.rows(kind, build, keys))
        else:
            self.writes.hold_read(
                self, kind, build, keys, take, holds_more=holds_more, during=during
            )

    def by(self, columns: tuple[str, ...]) -> KeyedTable:
        """Return the same table keyed by other columns (a reference's, say)."""
        return KeyedTable(self.conn, self.systems, self.system, self.table, columns, self.writes)

    def flush(self) -> None:
        """Send the held writes (see `HeldWrites`), before something else runs."""
        if self.writes is not None:
            self.writes.flush()

    def execute(
        self, kind: Hashable, build: KeyedBuild, keys: Sequence[Key], params: dict[str, Any]
    ) -> CursorResult[Any]:
        """Run the statement on the rows of `keys` now, after the held writes."""
        self.flush()
        if not keys:
            return self.conn.execute(build(false()), params)
        values = [k[0] for k in keys] if len(self.columns) == 1 else list(keys)
        return run_keyed(
            self.conn, self.systems, (*self.cache, kind), build, self.key, values, params
        )
