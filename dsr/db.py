"""The tool's own store: engines, the session of the current application context, the UTC time
column type, and the Alembic migrations that keep the schema in step with the models.

Services *flush*; the request boundary *commits* once (`init_app` commits after a successful
response and rolls back otherwise). Scripts and jobs use `transaction(engine)` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, g
from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Enum,
    Insert,
    create_engine,
    event,
    insert,
    inspect,
    make_url,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL, Connection, CursorResult, Dialect, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction, configure_mappers, make_transient_to_detached
from sqlalchemy.schema import Table
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, SQLModel

from inventory.pool import ping_when_idle

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000

# Deterministic constraint names, so that migrations can name what they alter on every engine.
# Set before any model class is defined: every model module imports this one first.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DatabaseNotUpToDate(RuntimeError):
    """The database's schema is not the one this version of the tool was written for."""


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store an aware datetime as UTC to the microsecond and read it back aware, in UTC.

    PostgreSQL keeps a `timestamptz`; MariaDB a `DATETIME(6)` and SQLite a text timestamp, both
    holding UTC without an offset. A naive datetime is refused: its instant is unknown.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the store keeps timezone-aware datetimes only, got a naive one")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def string_enum(enum_type: type[StrEnum], name: str) -> Enum:
    """Return a column type that stores a StrEnum's values as text, with a CHECK constraint
    listing them (named `ck_<table>_<name>`), and reads them back as members."""
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(32, *(len(member.value) for member in enum_type)),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def table_of(model: type[SQLModel]) -> Table:
    """Return the table of a table model, for Core statements on it."""
    table = model.__table__  # type: ignore[attr-defined]
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


@cache
def insert_unless_taken(dialect: str, model: type[SQLModel], unique: str) -> Insert | None:
    """`INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING id` into the model's table, built
    once, where the engine has it (PostgreSQL, SQLite); None elsewhere. Executed with a row's
    values, it returns the new row's id, or nothing when another row holds `unique`'s value."""
    if dialect not in ("postgresql", "sqlite"):
        return None
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(model)
    return (
        insert(table).on_conflict_do_nothing(index_elements=[table.c[unique]]).returning(table.c.id)
    )


def upsert(
    dialect: str,
    table: Table,
    row: Mapping[str, Any],
    keys: Sequence[Column[Any]],
    changes: Mapping[str, Any],
) -> Insert:
    """`INSERT row` into `table`, or, where a row holds the same `keys`, that row given `changes`
    (expressions on `table`'s columns read its values as they are), on the store's three engines:
    ON CONFLICT DO UPDATE on PostgreSQL and SQLite, ON DUPLICATE KEY UPDATE on MariaDB."""
    if dialect in ("postgresql", "sqlite"):
        insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return (
            insert_(table)
            .values(dict(row))
            .on_conflict_do_update(index_elements=list(keys), set_=dict(changes))
        )
    return mysql.insert(table).values(dict(row)).on_duplicate_key_update(dict(changes))


TableModel = TypeVar("TableModel", bound=SQLModel)


def new_row(model: type[TableModel], **values: Any) -> TableModel:
    """Return a new object of the table model `model`, as `model(**values)` makes it: `values`
    and the defaults of the other fields (factories called), the fields given marked as set.

    Its attributes are filled at once, as SQLAlchemy fills a loaded object, rather than each
    through SQLModel's `__setattr__` (SQLAlchemy's history, then pydantic's): on a busy path
    that cost more CPU than the INSERT (issue 17). Nothing is validated, as the constructor
    of a table model validates nothing; a name that is not a field is refused."""
    fields = model.model_fields
    unknown = values.keys() - fields.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    mapper = inspect(model)
    if not mapper.configured:  # as the constructor's first call does
        configure_mappers()
    row: TableModel = mapper.class_manager.new_instance()
    given = {name: values[name] for name in fields if name in values}  # in the fields' order
    defaults = {
        name: field.get_default(call_default_factory=True)
        for name, field in fields.items()
        if name not in values and not field.is_required()
    }
    row.__dict__.update(given, **defaults)  # the constructor's order: given first
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    return row


def new_row_values(row: SQLModel) -> dict[str, object]:
    """The values of a new row of a table model, its id left to the database."""
    return {
        column.name: getattr(row, column.name)
        for column in table_of(type(row)).c
        if column.name != "id"
    }


def keep_as_written(session: OrmSession, row: SQLModel, row_id: int) -> None:
    """Put `row`, just written by a Core statement that gave it `row_id`, in the session as
    stored (persistent, nothing pending): a later look-up of it finds this object."""
    row.id = row_id
    make_transient_to_detached(row)
    session.add(row)


def insert_as_written(session: OrmSession, row: SQLModel) -> None:
    """Write `row`, a new object, in one INSERT (built once per model) and keep it in the
    session as written: on a busy path, the ORM's unit of work cost more CPU than the statement
    (issue 17)."""
    inserted = execute_core(session, _plain_insert(type(row)), new_row_values(row))
    keep_as_written(session, row, inserted.inserted_primary_key[0])  # type: ignore[index]


def execute_core(
    session: OrmSession, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run a Core statement (built on tables, not models) on the session's connection, in its
    transaction, after the flush `session.execute` makes first (none under `no_autoflush`):
    the same SQL without the ORM's execute layer around it, which cost a sixth of a small
    statement's CPU on the public submission's path (issue 17)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


@cache
def _plain_insert(model: type[SQLModel]) -> Insert:
    return insert(table_of(model))


# --- engines and sessions -----------------------------------------------------------------------


def make_engine(url: str | URL) -> Engine:
    """Create an engine for the store with each engine's settings for correct transactions.

    SQLite: foreign keys enforced, write-ahead log, a busy timeout, and every transaction begun
    with BEGIN IMMEDIATE: transactions run one at a time (a second one waits, up to the busy
    timeout), so none can fail half-way on a snapshot that another one made stale. Keep
    sessions short, and end one before another one, in the same thread, needs the database.
    """
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return ping_when_idle(create_engine(url, pool_recycle=3600))
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS:d}")
            if url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_sqlite(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def open_session(engine: Engine) -> Session:
    """Return a new session on `engine`; objects stay readable after commit."""
    return Session(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """Yield a session that commits once when the block ends, or rolls back on an exception."""
    with open_session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_AFTER_COMMIT = "dsr.after_commit"


def after_commit(session: OrmSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction has committed; forget it if the
    transaction rolls back. E.g. try to deliver the email a request just queued.

    The callback opens its own session if it needs one. An exception it raises is logged (its
    class only: messages may hold personal data) and does not undo or fail the commit.
    """
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(OrmSession, "after_commit")
def _run_after_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released (the event fires then too): the data is not committed
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception as error:  # the commit is done: a failed follow-up must not undo it
            log.error("a task run after commit failed: %s", type(error).__name__)


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_after_commit(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction ended without a commit
        session.info.pop(_AFTER_COMMIT, None)


_ENGINE_KEY = "dsr.db.engine"


def claim_row(
    session: Session,
    table: Table,
    row_id: int,
    *,
    pending: StrEnum,
    free: ColumnElement[bool],
    until: datetime,
) -> bool:
    """Take one queued row for this sender: set its `claimed_until` only if it is still
    `pending` and `free` (unclaimed or its lease ran out), and commit; say whether it was ours.

    The outbox and the API callbacks share this compare-and-set so that two senders never send
    the same item.
    """
    taken = session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.status == pending, free)
        .values(claimed_until=until)
    )
    session.commit()
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Bind the store to `app`: one engine per application, one session per app context.

    A response below 400 commits the session; an error response or an exception rolls it back.
    """
    app.extensions[_ENGINE_KEY] = make_engine(app.config["DATABASE_URL"])
    app.after_request(_commit_on_success)
    app.teardown_appcontext(_close_session)


def get_engine(app: Flask | None = None) -> Engine:
    """Return the engine of `app` (the current application by default)."""
    engine: Engine = (app or current_app).extensions[_ENGINE_KEY]
    return engine


def get_session() -> Session:
    """Return the session of the current application context, opening it on first use."""
    if "db_session" not in g:
        g.db_session = open_session(get_engine())
    session: Session = g.db_session
    return session


def _commit_on_success(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def _close_session(_exception: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()  # rolls back whatever was not committed


# --- migrations ---------------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """Return Alembic's configuration, built in code so that it works from any directory.

    Migration files are named by date: `2026_05_01_1200-<revision>_<message>.py`.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s",
    )
    config.set_main_option("truncate_slug_length", "60")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the revision that the models of this version of the tool need."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found under {MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def current_revision_is_head(engine: Engine) -> bool:
    """Tell whether the database is at the newest revision, neither behind nor unknown."""
    return current_revision(engine) == head_revision()


def run_migrations(url: str | URL, revision: str = "head") -> str | None:
    """Upgrade the database at `url` to `revision` in one transaction; return where it now is."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
        return current_revision(engine)
    finally:
        engine.dispose()


def ensure_database_is_current(engine: Engine) -> None:
    """Raise `DatabaseNotUpToDate`, naming the command to run, unless the schema is at head.

    A missing SQLite file counts as behind and is not created.
    """
    url = engine.url
    shown = url.render_as_string(hide_password=True)
    behind = f"The database at {shown} is not up to date: run `dsr db upgrade`."
    is_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if is_file and not Path(str(url.database)).exists():
        raise DatabaseNotUpToDate(behind)
    current = current_revision(engine)
    if current == head_revision():
        return
    script = ScriptDirectory.from_config(alembic_config())
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise DatabaseNotUpToDate(
            f"The database at {shown} is at revision {current}, which this version of the tool "
            "does not know: it was migrated by a newer version. Run that version instead."
        )
    raise DatabaseNotUpToDate(behind)
