"""Connections to the systems a map names, and their reflected schemas.

URLs come from the environment variable each system declares, with the map's default otherwise;
a relative SQLite path in a default is taken from the map's folder so that the demo works from
any working directory.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SAWarning, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from inventory.model import DataMap

T = TypeVar("T")


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
    return enforce_foreign_keys(create_engine(url, pool_pre_ping=True))


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


@dataclass
class Systems:
    """The engines of a map's systems, opened lazily, and their reflected tables, cached."""

    data_map: DataMap
    environ: Mapping[str, str]
    base_dir: Path | None = None
    engines: dict[str, Engine] = field(default_factory=dict)
    _tables: dict[str, dict[str, Table]] = field(default_factory=dict)
    _pinned: dict[str, Connection] | None = None
    _statements: dict[Hashable, Executable] = field(default_factory=dict)
    _sql: dict[Hashable, str] = field(default_factory=dict)
    _memo: dict[Hashable, object] = field(default_factory=dict)

    def url(self, system: str) -> str:
        return system_url(self.data_map, system, self.environ, self.base_dir)

    def engine(self, system: str) -> Engine:
        if system not in self.engines:
            self.engines[system] = make_engine(self.url(system))
        return self.engines[system]

    def tables(self, system: str) -> dict[str, Table]:
        """Reflect the mapped tables of `system` once; raise SystemUnavailable when missing."""
        if system not in self._tables:
            wanted = list(self.data_map.systems[system].tables)
            metadata = MetaData()
            try:
                with warnings.catch_warnings():
                    # Expression indexes (lower(email)) are not needed to read rows.
                    warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
                    metadata.reflect(self.engine(system), only=wanted, resolve_fks=False)
            except SQLAlchemyError as exc:
                raise SystemUnavailable(system, short_reason(exc)) from exc
            self._tables[system] = {name: metadata.tables[name] for name in wanted}
        return self._tables[system]

    def statement(self, key: Hashable, build: Callable[[], Executable]) -> Executable:
        """Return the statement stored under `key`, building it once: the locator runs the same
        few dozen parametrised SELECTs for every subject, and building them costs as much as
        sending them."""
        if key not in self._statements:
            self._statements[key] = build()
        return self._statements[key]

    def driver_sql(self, key: Hashable, build: Callable[[], str]) -> str:
        """Return the SQL text stored under `key`, rendering it once (see `statement`)."""
        if key not in self._sql:
            self._sql[key] = build()
        return self._sql[key]

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """Return what `build` made for `key` the first time: work that depends only on the map
        and the schema (an erasure's table layout) is done once per `Systems`."""
        if key not in self._memo:
            self._memo[key] = build()
        return cast(T, self._memo[key])

    def forget(self, key: Hashable) -> None:
        self._memo.pop(key, None)

    @contextmanager
    def connect(self, system: str) -> Iterator[Connection]:
        """Yield a connection to `system`: the pinned one inside `pinned()`, else a new one."""
        if self._pinned is None:
            with self.engine(system).connect() as connection:
                yield connection
            return
        if system not in self._pinned:
            self._pinned[system] = self.engine(system).connect()
        yield self._pinned[system]

    @contextmanager
    def pinned(self) -> Iterator[Systems]:
        """Reuse one connection per system for everything done in the block (a whole
        collection reads dozens of tables: a checkout per table costs more than its SELECT)."""
        if self._pinned is not None:
            yield self
            return
        self._pinned = {}
        try:
            yield self
        finally:
            pinned, self._pinned = self._pinned, None
            for connection in pinned.values():
                connection.close()

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
        self.engines.clear()
        self._tables.clear()

    @contextmanager
    def opened(self) -> Iterator[Systems]:
        try:
            yield self
        finally:
            self.dispose()


def short_reason(exc: SQLAlchemyError) -> str:
    """The first line of a database error, without the SQL or parameters (they may hold data)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
