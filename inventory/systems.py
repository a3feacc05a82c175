"""Connections to the systems a map names, and their reflected schemas, kept for the process.

URLs come from the environment variable each system declares, with the map's default otherwise;
a relative SQLite path in a default is taken from the map's folder so that the demo works from
any working directory.

A `Systems` is meant to live as long as its map: its engines keep a connection pool, its
reflected tables and built statements are what makes a typical subject cost little more than
its SELECTs. Several threads use it at once (a thread per system of a collection, the threads of
a web worker): lazy builds are locked, and the connection `pinned()` keeps is per thread. A
forked child (a gunicorn or Huey worker) drops the pools it inherited, without closing the
parent's connections (`os.register_at_fork`).

A schema that changes under a long-lived `Systems` is noticed two ways, both cheap:
- an error of the "no such column / table" kind (or PostgreSQL's "cached plan must not change
  result type" on a pooled connection's prepared statement) marks the system stale at once, from
  the engine's `handle_error` event, whoever ran the statement: its next use reflects again on a
  new engine (no pooled connection keeps a prepared statement of the old schema, and the foreign
  keys cached per engine are read again). The collection and the locator also retry such a read
  once, so the request that hit the change succeeds;
- a fingerprint of the mapped tables (SQLite: the file's identity and `PRAGMA schema_version`;
  PostgreSQL: their columns' names, types and foreign keys in `pg_attribute`/`pg_constraint`;
  MariaDB: `information_schema`; foreign keys from and to them included) is compared at most
  every `schema_check_seconds`, so that a change that raises no error (a column's type, a table
  recreated) is seen within that time by readers; checking it before every collection would
  cost a noticeable share of a typical subject's own SELECTs. The work that changes rows (an
  erasure, a targeted change, a retention sweep) compares it first (`recheck_schema`): a foreign
  key added or dropped decides what it may delete.
While a reflection lacks a column the map names, the fingerprint is compared at every use, so
that the column is read as soon as it is added.
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import SAWarning, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from inventory.model import DataMap
from inventory.pool import for_reading, ping_when_idle
from inventory.validation import known_columns

T = TypeVar("T")

SCHEMA_CHECK_SECONDS = 5.0
"""How often, at most, a system's schema fingerprint is compared with its reflection's."""


class SystemUnavailable(Exception):
    """A system could not be reached or read; the message names it and says why."""

    def __init__(self, system: str, reason: str) -> None:
        self.system = system
        self.reason = reason
        super().__init__(f"system `{system}` could not be read: {reason}")


def system_url(
    data_map: DataMap, system: str, environ: Mapping[str, str], base_dir: Path | None = None
) -> str:
    """Return the SQLAlchemy URL of `system`: its environment variable, else the map's default."""
    spec = data_map.systems[system].url
    url = environ.get(spec.env) or spec.default
    if url == spec.default and base_dir is not None:
        url = _anchor_sqlite(url, base_dir)
    return url


def _anchor_sqlite(url: str, base_dir: Path) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return url
    if parsed.database == ":memory:" or Path(parsed.database).is_absolute():
        return url
    return parsed.set(database=str((base_dir / parsed.database).resolve())).render_as_string(
        hide_password=False
    )


def make_engine(url: str) -> Engine:
    """Create an engine with settings that suit short, set-based reads and writes; on SQLite,
    with its foreign keys enforced (see `enforce_foreign_keys`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return enforce_foreign_keys(ping_when_idle(create_engine(url)))


def enforce_foreign_keys(engine: Engine) -> Engine:
    """Make every SQLite connection of `engine` enforce its foreign keys; return `engine`.

    SQLite ignores foreign keys unless each connection asks (`PRAGMA foreign_keys`): without it a
    change the schema forbids, such as deleting a row another row still refers to, goes through
    and leaves a dangling reference, where PostgreSQL and MariaDB refuse it. Other engines are
    returned as they are.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys_on)
    return engine


def _sqlite_foreign_keys_on(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def redact_url(url: str) -> str:
    """Return the URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


_SCHEMA_SQLSTATES = frozenset({"42703", "42P01"})  # PostgreSQL: undefined column, table
_SCHEMA_MYSQL_CODES = frozenset({1054, 1146})  # MariaDB/MySQL: unknown column, no such table
_SCHEMA_MESSAGES = (
    "no such column",  # SQLite
    "no such table",
    "has no column named",
    "cached plan must not change result type",  # PostgreSQL, a prepared statement after DDL
)


def is_schema_error(error: BaseException) -> bool:
    """Say whether a database error means the schema is not the one reflected (a column or a
    table gone or renamed, a prepared statement's result changed)."""
    original = getattr(error, "orig", None) or error
    if getattr(original, "sqlstate", None) in _SCHEMA_SQLSTATES:
        return True
    arguments = getattr(original, "args", ())
    if arguments and isinstance(arguments[0], int) and arguments[0] in _SCHEMA_MYSQL_CODES:
        return True
    message = str(original).lower()
    return any(part in message for part in _SCHEMA_MESSAGES)


_PG_FINGERPRINT = text(
    # the tables' oids as one array, so that pg_attribute is read through its index on attrelid
    # (a join with a set of oids made the planner scan all of it: 0.5 ms of the erasure's 1)
    "WITH t AS (SELECT array_agg(to_regclass(quote_ident(n))::oid) AS oids "
    "FROM unnest(CAST(:names AS text[])) n), "
    "f AS (SELECT a.attrelid::bigint AS r, a.attnum::int AS n, a.attname::text AS name, "
    "a.atttypid::bigint AS k, a.atttypmod::int AS m FROM pg_attribute a, t "
    "WHERE a.attrelid = ANY(t.oids) AND a.attnum > 0 AND NOT a.attisdropped "
    "UNION SELECT c.conrelid::bigint, -1, c.conname::text, c.confrelid::bigint, 0 "
    "FROM pg_constraint c, t WHERE c.contype = 'f' "
    "AND (c.conrelid = ANY(t.oids) OR c.confrelid = ANY(t.oids))) "
    # one row: the server digests the columns and foreign keys, in order, rather than sending
    # each (the fingerprint is compared before every erasure)
    "SELECT count(*), md5(string_agg(concat_ws(',', r, n, name, k, m), ';' ORDER BY r, n, name)) "
    "FROM f"
)
_MYSQL_FINGERPRINT = text(
    "SELECT TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names "
    "UNION ALL SELECT TABLE_NAME, -1, CONSTRAINT_NAME, REFERENCED_TABLE_NAME "
    "FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() "
    "AND (TABLE_NAME IN :names OR REFERENCED_TABLE_NAME IN :names) ORDER BY 1, 2, 3"
).bindparams(bindparam("names", expanding=True))


def schema_fingerprint(conn: Connection, tables: list[str]) -> Hashable:
    """Return what changes when the schema of `tables` changes (None where it cannot be told)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        database = conn.engine.url.database
        identity: tuple[int, int] | None = None
        if database and database != ":memory:":
            try:
                status = os.stat(database)
            except OSError:
                return None
            identity = (status.st_dev, status.st_ino)  # the file replaced: a new database
        return (identity, conn.exec_driver_sql("PRAGMA schema_version").scalar())
    if dialect == "postgresql":
        return tuple(tuple(row) for row in conn.execute(_PG_FINGERPRINT, {"names": tables}))
    if dialect in ("mysql", "mariadb"):
        return tuple(tuple(row) for row in conn.execute(_MYSQL_FINGERPRINT, {"names": tables}))
    return None


_everything: weakref.WeakSet[_Shared] = weakref.WeakSet()
_REFLECTING = threading.Lock()
"""Held while a reflection ignores a warning: `warnings.catch_warnings` is not thread-safe."""


class _Shared:
    """What a `Systems` and its views on narrowed maps share: engines, reflections, statements."""

    def __init__(self, data_map: DataMap) -> None:
        self.data_map = data_map  # the map reflections are checked against (all its columns)
        self.engines: dict[str, Engine] = {}
        self.tables: dict[str, dict[str, Table]] = {}
        self.statements: dict[Hashable, Executable] = {}
        self.sql: dict[Hashable, str] = {}
        self.fingerprints: dict[str, tuple[Hashable, float]] = {}
        self.stale: set[str] = set()
        self.generation = 0  # counts the reflections forgotten: a memo older than that is too
        self._new_locks()
        _everything.add(self)

    def _new_locks(self) -> None:
        self.lock = threading.RLock()
        self.system_locks: dict[str, threading.RLock] = {}
        self.pins = threading.local()

    def system_lock(self, system: str) -> threading.RLock:
        with self.lock:
            return self.system_locks.setdefault(system, threading.RLock())

    def after_fork(self) -> None:
        """In a forked child: new locks, and new pools (the parent's connections left open)."""
        self._new_locks()
        for engine in self.engines.values():
            engine.dispose(close=False)


def _after_fork_in_child() -> None:
    global _REFLECTING
    _REFLECTING = threading.Lock()
    for shared in list(_everything):
        shared.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(eq=False)
class Systems:
    """The engines of a map's systems, opened lazily, and their reflected tables and built
    statements, kept as long as the object (see the module's docstring)."""

    data_map: DataMap
    environ: Mapping[str, str]
    base_dir: Path | None = None
    schema_check_seconds: float = SCHEMA_CHECK_SECONDS
    shared_with: InitVar[_Shared | None] = None
    shared: _Shared = field(init=False, repr=False)
    _memo: dict[Hashable, object] = field(default_factory=dict, repr=False)
    _memo_generation: int = field(default=0, repr=False)

    def __post_init__(self, shared_with: _Shared | None) -> None:
        self.shared = shared_with if shared_with is not None else _Shared(self.data_map)
        self._memo_generation = self.shared.generation

    @property
    def engines(self) -> dict[str, Engine]:
        return self.shared.engines

    def for_map(self, data_map: DataMap) -> Systems:
        """Return this `Systems` as seen from `data_map`, a narrowed copy of its map (fewer
        categories, holds) with the same systems: engines, reflections and statements are
        shared, the memo (work that depends on the categories) is its own."""
        if data_map is self.data_map:
            return self
        if data_map.systems is not self.data_map.systems:
            raise ValueError("a view of systems needs a map with the same systems")
        return Systems(
            data_map, self.environ, self.base_dir, self.schema_check_seconds, self.shared
        )

    def url(self, system: str) -> str:
        return system_url(self.data_map, system, self.environ, self.base_dir)

    def engine(self, system: str) -> Engine:
        shared = self.shared
        engine = shared.engines.get(system)
        if engine is not None:
            return engine
        with shared.lock:
            if system not in shared.engines:
                engine = make_engine(self.url(system))
                event.listen(engine, "handle_error", _marks_stale(shared, system))
                shared.engines[system] = engine
            return shared.engines[system]

    def tables(self, system: str) -> dict[str, Table]:
        """Reflect the mapped tables of `system` once, and again after a schema change; raise
        SystemUnavailable when a table is missing (a column the map names that is missing is
        looked for again at every use)."""
        shared = self.shared
        tables = shared.tables.get(system)
        if tables is not None and system not in shared.stale and not self._check_due(system):
            return tables
        with shared.system_lock(system):
            if system in shared.stale or (system in shared.tables and self._check_due(system)):
                self._check_schema(system)
            if system not in shared.tables:
                shared.tables[system] = self._reflect(system)
            return shared.tables[system]

    def recheck_schema(self) -> Systems:
        """Compare every reflected system's fingerprint now, whenever it was last compared;
        return self. For the work that changes rows (an erasure, a sweep): a foreign key added
        or dropped a moment ago decides what it may delete, and one query per system costs
        little beside its statements."""
        shared = self.shared
        for system in self.data_map.systems:
            with shared.system_lock(system):
                if system in shared.tables:
                    self._check_schema(system)
        return self

    def _check_due(self, system: str) -> bool:
        checked = self.shared.fingerprints.get(system)
        return checked is None or time.monotonic() - checked[1] >= self.schema_check_seconds

    def _check_schema(self, system: str) -> None:
        """Forget the system's reflection when it is stale or its fingerprint changed."""
        shared = self.shared
        if system not in shared.stale:
            previous = shared.fingerprints.get(system)
            try:
                current = self._fingerprint(system)
            except SQLAlchemyError as exc:
                raise SystemUnavailable(system, short_reason(exc)) from exc
            if previous is not None and previous[0] == current:
                checked = time.monotonic() if previous[1] != -math.inf else -math.inf
                shared.fingerprints[system] = (current, checked)
                return
        self.forget_schema(system)

    def _fingerprint(self, system: str) -> Hashable:
        names = list(self.shared.data_map.systems[system].tables)
        with self.connect(system) as conn:
            return schema_fingerprint(conn, names)

    def _reflect(self, system: str) -> dict[str, Table]:
        shared = self.shared
        data_map = shared.data_map
        wanted = list(data_map.systems[system].tables)
        metadata = MetaData()
        try:
            fingerprint = self._fingerprint(system)  # before: a change meanwhile is seen next
            with _REFLECTING, warnings.catch_warnings():  # the filters are the process's
                # Expression indexes (lower(email)) are not needed to read rows.
                warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
                metadata.reflect(self.engine(system), only=wanted, resolve_fks=False)
        except SQLAlchemyError as exc:
            raise SystemUnavailable(system, short_reason(exc)) from exc
        tables = {name: metadata.tables[name] for name in wanted}
        complete = all(
            known_columns(data_map, system, name) <= set(table.c.keys())
            for name, table in tables.items()
        )
        # Lacking a column the map names, the schema is compared again at every use, so that
        # the column is seen as soon as it is added.
        shared.fingerprints[system] = (fingerprint, time.monotonic() if complete else -math.inf)
        shared.stale.discard(system)
        return tables

    def note_error(self, system: str, error: BaseException) -> None:
        """Mark `system` stale when `error` is a schema error, as the engine's `handle_error`
        does for the statements it runs (for those sent on the driver connection itself)."""
        if is_schema_error(error):
            with self.shared.lock:
                self.shared.stale.add(system)

    def forget_schema(self, system: str) -> None:
        """Reflect `system` again at its next use, on a new engine (the old one's pooled
        connections may hold prepared statements of the old schema); built statements and the
        memo are dropped too, as they were made from the old reflection."""
        shared = self.shared
        with shared.lock:
            shared.tables.pop(system, None)
            shared.fingerprints.pop(system, None)
            engine = shared.engines.pop(system, None)
            shared.statements.clear()
            shared.sql.clear()
            shared.stale.discard(system)
            shared.generation += 1
        pins = self._pins()
        if pins is not None and system in pins:  # this thread's next use takes a new one
            self.shared.pins.retired.append(pins.pop(system))
        if engine is not None:
            engine.dispose()  # connections in use go on; returned, they are closed

    def statement(self, key: Hashable, build: Callable[[], Executable]) -> Executable:
        """Return the statement stored under `key`, building it once: the locator runs the same
        few dozen parametrised SELECTs for every subject, and building them costs as much as
        sending them."""
        statements = self.shared.statements
        found = statements.get(key)
        if found is None:
            found = statements.setdefault(key, build())
        return found

    def driver_sql(self, key: Hashable, build: Callable[[], str]) -> str:
        """Return the SQL text stored under `key`, rendering it once (see `statement`)."""
        sql = self.shared.sql
        found = sql.get(key)
        if found is None:
            found = sql.setdefault(key, build())
        return found

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """Return what `build` made for `key` the first time: work that depends only on the map
        and the schema (an erasure's table layout) is done once per `Systems` and reflection."""
        if self._memo_generation != self.shared.generation:
            self._memo.clear()
            self._memo_generation = self.shared.generation
        if key not in self._memo:
            self._memo.setdefault(key, build())
        return cast(T, self._memo[key])

    def memo_for(self, data_map: DataMap, key: Hashable, build: Callable[[], T]) -> T:
        """`memo`, for work that depends on `data_map`: kept only when it is the map these
        systems were opened with (a caller's other map, a test's, is worked out each time)."""
        if data_map is not self.data_map:
            return build()
        return self.memo(key, build)

    def forget(self, key: Hashable) -> None:
        self._memo.pop(key, None)

    def _pins(self) -> dict[str, Connection] | None:
        pins: dict[str, Connection] | None = getattr(self.shared.pins, "connections", None)
        return pins

    @contextmanager
    def connect(self, system: str) -> Iterator[Connection]:
        """Yield a connection to `system` to read from (`inventory.pool.for_reading`: without a
        transaction where that changes nothing): this thread's pinned one inside `pinned()`,
        else a new one from the pool."""
        pins = self._pins()
        if pins is None:
            with self.engine(system).connect() as connection:
                yield for_reading(connection)
            return
        if system not in pins:
            pins[system] = for_reading(self.engine(system).connect())
        yield pins[system]

    @contextmanager
    def pinned(self) -> Iterator[Systems]:
        """Reuse one connection per system for everything this thread does in the block (a
        whole collection reads dozens of tables: a checkout per table costs more than its
        SELECT)."""
        if self._pins() is not None:
            yield self
            return
        pins = self.shared.pins
        pins.connections, pins.retired = {}, []
        try:
            yield self
        finally:
            connections = [*pins.connections.values(), *pins.retired]
            pins.connections, pins.retired = None, []
            for connection in connections:
                connection.close()

    def dispose(self) -> None:
        """Close every pooled connection (a one-shot command at its end); the engines open
        again if used."""
        shared = self.shared
        with shared.lock:
            engines = list(shared.engines.values())
            shared.engines.clear()
            shared.tables.clear()
            shared.fingerprints.clear()
        for engine in engines:
            engine.dispose()

    @contextmanager
    def opened(self) -> Iterator[Systems]:
        try:
            yield self
        finally:
            self.dispose()


def _marks_stale(shared: _Shared, system: str) -> Callable[[ExceptionContext], None]:
    """Return the engine's `handle_error` listener that marks `system` stale on a schema error."""

    def mark(context: ExceptionContext) -> None:
        if is_schema_error(context.original_exception):
            shared.stale.add(system)

    return mark


def short_reason(exc: SQLAlchemyError) -> str:
    """The first line of a database error, without the SQL or parameters (they may hold data)."""
    text_ = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text_[0] if text_ else type(exc).__name__
