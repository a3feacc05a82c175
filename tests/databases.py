"""Brand new, empty databases on SQLite, PostgreSQL and MariaDB for tests that touch a real engine.

Each database gets a name unique to the process and the call (`dsr_t_<pid>_<hex>`), so pytest-xdist
workers and parallel runs never share one, and is dropped on exit with the engines that used it.
The servers' admin URLs can be overridden with DSR_TEST_POSTGRES_ADMIN_URL and
DSR_TEST_MARIADB_ADMIN_URL.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import pytest
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

EngineKind = Literal["sqlite", "postgresql", "mariadb"]
ServerKind = Literal["postgresql", "mariadb"]

ENGINES: tuple[EngineKind, ...] = get_args(EngineKind)
SERVERS: tuple[ServerKind, ...] = get_args(ServerKind)

ADMIN_URL_ENV: dict[ServerKind, str] = {
    "postgresql": "DSR_TEST_POSTGRES_ADMIN_URL",
    "mariadb": "DSR_TEST_MARIADB_ADMIN_URL",
}
DEFAULT_ADMIN_URLS: dict[ServerKind, str] = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4",
}
DROP_WITHIN_SECONDS = 120.0
"""How long a database still in use gets to be dropped: only a hung process makes it matter."""
CONNECT_TIMEOUT_SECONDS = 30
"""A server that is down refuses at once; a loaded one may take seconds to accept."""
_SERVER_NAMES: dict[ServerKind, str] = {"postgresql": "PostgreSQL", "mariadb": "MariaDB"}
ENSURE_SERVICES = Path(__file__).resolve().parents[1] / "scripts" / "ensure-services.sh"

_servers_checked = False
_servers_problem: str | None = None


def admin_url(kind: ServerKind) -> URL:
    """Return the URL of a superuser connection to `kind`'s server (environment, else default)."""
    return make_url(os.environ.get(ADMIN_URL_ENV[kind]) or DEFAULT_ADMIN_URLS[kind])


def server_label(kind: ServerKind) -> str:
    """Name the server as people read it, e.g. 'PostgreSQL at 127.0.0.1:5432'."""
    url = admin_url(kind)
    port = url.port or {"postgresql": 5432, "mariadb": 3306}[kind]
    return f"{_SERVER_NAMES[kind]} at {url.host or 'localhost'}:{port}"


def _admin_engine(kind: ServerKind, database: str | None = None) -> Engine:
    """Open no pooled connection: every admin connection is closed when its block ends."""
    url = admin_url(kind)
    return create_engine(
        url if database is None else url.set(database=database),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


def server_problem(kind: ServerKind) -> str | None:
    """Return why `kind`'s server cannot be used (the driver's error), or None when it answers."""
    engine = _admin_engine(kind)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to connect means the server cannot be used
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    finally:
        engine.dispose()
    return None


def ensure_database_servers() -> None:
    """Check once per process that both servers answer; start them if not, else fail the run.

    A run with a database missing must fail loudly, never skip: pytest exits with code 1 and a
    message naming the server that could not be started. In a pytest-xdist worker, where an exit
    would crash the worker, each test that needs a server fails with that message instead.
    """
    global _servers_checked, _servers_problem
    if not _servers_checked:
        _servers_problem = _start_database_servers()
        _servers_checked = True
    if _servers_problem is None:
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(_servers_problem, pytrace=False)
    pytest.exit(_servers_problem, returncode=1)


def _start_database_servers() -> str | None:
    """Run scripts/ensure-services.sh if a server does not answer; say what is still down."""
    problems = {kind: server_problem(kind) for kind in SERVERS}
    if not any(problems.values()):
        return None
    script = subprocess.run(
        ["bash", str(ENSURE_SERVICES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    script_said = " ".join(script.stderr.split()[-60:])
    script_said = f": {script_said}" if script_said else ""
    problems = {kind: server_problem(kind) for kind in SERVERS}
    down = [
        f"{server_label(kind)} is not running and could not be started: {problem}"
        for kind, problem in problems.items()
        if problem
    ]
    if not down:
        return None
    return "; ".join(down) + (
        f" (scripts/ensure-services.sh exited {script.returncode}{script_said})"
    )


def new_database_name() -> str:
    """Return a database name no other worker, process or call will pick."""
    return f"dsr_t_{os.getpid()}_{secrets.token_hex(6)}"


def kind_of(url: str | URL) -> EngineKind:
    """Tell which of the tested engines a URL points at."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    if backend in ("mysql", "mariadb"):
        return "mariadb"
    raise ValueError(f"not a tested database engine: {backend}")


@contextmanager
def _engines_connecting_to(url: URL) -> Iterator[list[Engine]]:
    """Collect every engine that connects to `url`'s database while the block runs."""
    engines: list[Engine] = []
    target = (kind_of(url), url.database)

    def remember(connection: Connection) -> None:
        engine = connection.engine
        if (kind_of(engine.url), engine.url.database) == target and engine not in engines:
            engines.append(engine)

    event.listen(Engine, "engine_connect", remember)
    try:
        yield engines
    finally:
        event.remove(Engine, "engine_connect", remember)


def _create(kind: EngineKind, url: URL) -> None:
    name = url.database
    assert name is not None
    if kind == "sqlite":
        sqlite3.connect(name).close()
        return
    engine = _admin_engine(kind)
    try:
        with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(name)
            if kind == "postgresql":
                connection.execute(
                    text(f"CREATE DATABASE {quoted} TEMPLATE template0 ENCODING 'UTF8'")
                )
            else:
                connection.execute(
                    text(
                        f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
    finally:
        engine.dispose()


def _drop(kind: EngineKind, url: URL) -> None:
    """Drop the database, whatever still uses it: a process a failed test left behind (a
    scheduler, gunicorn) must not keep it, nor break the next test's setup.

    Servers refuse to drop a database in use, and such a process may reconnect meanwhile: its
    connections are refused (PostgreSQL) or ended again, and the drop retried until
    DROP_WITHIN_SECONDS."""
    name = url.database
    assert name is not None
    if kind == "sqlite":
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
        return
    deadline = time.monotonic() + DROP_WITHIN_SECONDS
    while True:
        try:
            _drop_on_server(kind, name)
            return
        except DBAPIError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def _drop_on_server(kind: ServerKind, name: str) -> None:
    engine = _admin_engine(kind)
    try:
        with engine.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(name)
            if kind == "postgresql":
                exists = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if exists is None:
                    return
                # No new connection (superusers included), then end the open ones.
                connection.execute(text(f"ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS false"))
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
                return
            # MariaDB waits for open transactions on the database (a year by default): end the
            # connections left over and wait for their locks a while only, then try again.
            connection.execute(text("SET SESSION lock_wait_timeout = 10"))
            leftovers = connection.execute(
                text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = :name AND id <> CONNECTION_ID()"
                ),
                {"name": name},
            ).scalars()
            for thread_id in list(leftovers):
                with suppress(DBAPIError):  # it ended meanwhile: Unknown thread id
                    connection.execute(text(f"KILL CONNECTION {int(thread_id)}"))
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
    finally:
        engine.dispose()


def drop_database(url: str | URL) -> None:
    """Drop the database at `url` (a file for SQLite), ending the connections still open on it."""
    url = make_url(url)
    _drop(kind_of(url), url)


@contextmanager
def fresh_database(kind: EngineKind, directory: Path | None = None) -> Iterator[str]:
    """Yield the SQLAlchemy URL of a new, empty database of `kind`, dropped when the block ends.

    SQLite's file goes in `directory` (a temporary folder by default). Engines that connected to the
    database meanwhile are disposed before the drop, so no connection or file handle outlives it.
    """
    if kind not in ENGINES:
        raise ValueError(f"unknown database engine {kind!r}: choose among {', '.join(ENGINES)}")
    own_directory = None
    if kind == "sqlite":
        if directory is None:
            own_directory = directory = Path(tempfile.mkdtemp(prefix="dsr_t_"))
        url = URL.create("sqlite", database=str(directory / f"{new_database_name()}.sqlite3"))
    else:
        ensure_database_servers()
        url = admin_url(kind).set(database=new_database_name())
    try:
        with _engines_connecting_to(url) as engines:
            _create(kind, url)
            try:
                yield url.render_as_string(hide_password=False)
            finally:
                for engine in engines:
                    engine.dispose()
                _drop(kind, url)
    finally:
        if own_directory is not None:
            shutil.rmtree(own_directory, ignore_errors=True)


def copy_database(url: str | URL, template: str) -> None:
    """Make the empty PostgreSQL database of `url` a copy of the database `template` (which
    nobody may be connected to): the server copies it in a fraction of the time its migrations
    take, run again for every test that needs a migrated store."""
    name = make_url(url).database
    assert name is not None
    engine = _admin_engine("postgresql")
    try:
        with engine.connect() as connection:
            quote = connection.dialect.identifier_preparer.quote
            connection.execute(text(f"DROP DATABASE {quote(name)}"))
            connection.execute(text(f"CREATE DATABASE {quote(name)} TEMPLATE {quote(template)}"))
    finally:
        engine.dispose()


def database_exists(url: str | URL) -> bool:
    """Ask the server's catalogue (or the file system, for SQLite) whether the database exists."""
    url = make_url(url)
    kind = kind_of(url)
    name = url.database
    assert name is not None
    if kind == "sqlite":
        return Path(name).exists()
    engine = _admin_engine(kind)
    try:
        with engine.connect() as connection:
            query = (
                "SELECT 1 FROM pg_database WHERE datname = :name"
                if kind == "postgresql"
                else "SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"
            )
            return connection.execute(text(query), {"name": name}).first() is not None
    finally:
        engine.dispose()


@dataclass(frozen=True)
class MariaDBTrigger:
    """A trigger as SHOW CREATE TRIGGER gives it, with the settings it was created under (they
    decide how its body runs)."""

    statement: str
    sql_mode: str
    character_set_client: str
    collation_connection: str


@dataclass(frozen=True)
class MariaDBTemplate:
    """What a MariaDB database is made of, read once to be replayed into empty databases: MariaDB
    has no CREATE DATABASE ... TEMPLATE, and CREATE TABLE ... LIKE drops the foreign keys.

    The rows are copied from the database `name` itself, which must outlive its copies."""

    name: str
    tables: tuple[str, ...]
    """The CREATE TABLE statement of every table (foreign keys, checks and options included)."""
    triggers: tuple[MariaDBTrigger, ...]
    """In the order they fire in, for triggers of the same table, timing and event."""
    tables_with_rows: tuple[str, ...]


_LEFT_OUT_OF_A_COPY = text(
    "SELECT concat(table_type, ' ', table_name) FROM information_schema.tables"
    " WHERE table_schema = :schema AND table_type <> 'BASE TABLE'"
    " UNION ALL SELECT concat(routine_type, ' ', routine_name) FROM information_schema.routines"
    " WHERE routine_schema = :schema"
    " UNION ALL SELECT concat('EVENT ', event_name) FROM information_schema.events"
    " WHERE event_schema = :schema"
)
_TABLES = text(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"
    " ORDER BY table_name"
)
_TRIGGERS = text(
    "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = :schema"
    " ORDER BY event_object_table, action_timing, event_manipulation, action_order"
)


def read_mariadb_template(url: str | URL) -> MariaDBTemplate:
    """Read the tables, triggers and rows of the MariaDB database at `url`; refuse one with
    objects a copy would leave out (views, routines, events, sequences)."""
    name = make_url(url).database
    assert name is not None
    schema = {"schema": name}
    engine = _admin_engine("mariadb", name)
    try:
        with engine.connect() as connection:
            left_out = sorted(connection.execute(_LEFT_OUT_OF_A_COPY, schema).scalars())
            if left_out:
                raise ValueError(f"a copy of {name} would leave out {', '.join(left_out)}")
            quote = connection.dialect.identifier_preparer.quote
            tables, tables_with_rows = [], []
            for table in connection.execute(_TABLES, schema).scalars().all():
                shown = connection.execute(text(f"SHOW CREATE TABLE {quote(table)}")).one()
                tables.append(shown[1])
                has_rows = text(f"SELECT EXISTS (SELECT 1 FROM {quote(table)})")
                if connection.execute(has_rows).scalar_one():
                    tables_with_rows.append(table)
            triggers = []
            for trigger in connection.execute(_TRIGGERS, schema).scalars().all():
                shown = connection.execute(text(f"SHOW CREATE TRIGGER {quote(trigger)}")).one()
                triggers.append(MariaDBTrigger(shown[2], shown[1], shown[3], shown[4]))
    finally:
        engine.dispose()
    return MariaDBTemplate(name, tuple(tables), tuple(triggers), tuple(tables_with_rows))


def copy_mariadb_database(url: str | URL, template: MariaDBTemplate) -> None:
    """Make the empty MariaDB database of `url` a copy of `template`: its tables, their rows, then
    its triggers (so that copying the rows fires none), in a fraction of the time the migrations
    that built it take."""
    name = make_url(url).database
    assert name is not None
    engine = _admin_engine("mariadb", name)
    try:
        with engine.connect() as connection:
            quote = connection.dialect.identifier_preparer.quote
            # A table may refer to one created after it, or to itself.
            connection.execute(text("SET SESSION foreign_key_checks = 0"))
            verbatim = {"no_parameters": True}  # a % in a statement is not a placeholder
            for statement in template.tables:
                connection.exec_driver_sql(statement, execution_options=verbatim)
            for table in template.tables_with_rows:
                connection.execute(
                    text(
                        f"INSERT INTO {quote(table)} "
                        f"SELECT * FROM {quote(template.name)}.{quote(table)}"
                    )
                )
            for trigger in template.triggers:
                connection.execute(
                    text(
                        "SET SESSION sql_mode = :sql_mode, "
                        "character_set_client = :character_set_client, "
                        "collation_connection = :collation_connection"
                    ),
                    {
                        "sql_mode": trigger.sql_mode,
                        "character_set_client": trigger.character_set_client,
                        "collation_connection": trigger.collation_connection,
                    },
                )
                connection.exec_driver_sql(trigger.statement, execution_options=verbatim)
    finally:
        engine.dispose()
