"""The `dsr db` and `dsr audit` commands: migrate the tool's own store and check its audit log.

Both take the store's URL from --database-url, by default the settings' DATABASE_URL (env
DSR_DATABASE_URL), else the SQLite file the application uses, `instance/dsr.sqlite3`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from alembic import command
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from dsr import db, store_models
from dsr.commands import DeskGroup
from dsr.commands import database_url_option as database_url_option  # re-exported: commands use it


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def fail_on_database_error(url: str, doing: str, error: SQLAlchemyError) -> NoReturn:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).splitlines()
    detail = lines[0] if lines else type(error).__name__
    click.echo(f"error: cannot {doing} {_shown(url)}: {detail}", err=True)
    raise SystemExit(1)


@contextmanager
def current_store(database_url: str, doing: str) -> Iterator[Engine]:
    """Yield an engine on the store at `database_url` once its schema is at head, and dispose of
    it after; exit 1 saying why when the store is behind or the database fails (`doing` says
    what the command could not do, as in `fail_on_database_error`)."""
    engine = db.make_engine(database_url)
    try:
        db.ensure_database_is_current(engine)
        yield engine
    except db.DatabaseNotUpToDate as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, doing, error)
    finally:
        engine.dispose()


# --- dsr db -------------------------------------------------------------------------------------


@click.group("db", cls=DeskGroup)
def db_group() -> None:
    """Create and migrate the tool's own database."""


@db_group.command("upgrade")
@database_url_option
def db_upgrade(database_url: str) -> None:
    """Bring the database's schema up to date (creating it if empty)."""
    store_models.import_models()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(database_url)
    try:
        before = db.current_revision(engine)
        after = db.run_migrations(database_url)
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "migrate", error)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"The database at {_shown(database_url)} is up to date (revision {after}).")
    else:
        click.echo(
            f"The database at {_shown(database_url)} was upgraded from revision "
            f"{before or '(empty)'} to {after}."
        )


@db_group.command("current")
@database_url_option
def db_current(database_url: str) -> None:
    """Show the database's revision and whether it is up to date; exit 1 when it is behind."""
    engine = db.make_engine(database_url)
    try:
        current = db.current_revision(engine)
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "read", error)
    finally:
        engine.dispose()
    head = db.head_revision()
    if current == head:
        click.echo(f"{current} (up to date)")
        return
    click.echo(f"{current or '(empty)'} (behind: the newest revision is {head})")
    raise SystemExit(1)


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@database_url_option
def db_revision(message: str, database_url: str) -> None:
    """Write a new migration from the difference between the models and an up-to-date database
    (for developers: review the file it writes)."""
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as connection:
            script = command.revision(
                db.alembic_config(connection), message=message, autogenerate=True
            )
    finally:
        engine.dispose()
    scripts = script if isinstance(script, list) else [script]
    for written in scripts:
        if written is not None:
            click.echo(f"Migration written to {written.path}: review it before committing.")


# --- dsr audit ----------------------------------------------------------------------------------


@click.group("audit", cls=DeskGroup)
def audit_group() -> None:
    """Check the audit log of the requests."""


@audit_group.command("verify")
@database_url_option
def audit_verify(database_url: str) -> None:
    """Check every event against its hash; report the first one edited, removed or reordered."""
    from dsr.audit.models import verify_audit

    with current_store(database_url, "read") as engine, db.open_session(engine) as session:
        report = verify_audit(db_session=session)
    if report.ok:
        plural = "" if report.events_checked == 1 else "s"
        click.echo(f"Audit trail intact: {report.events_checked} event{plural}.")
        return
    click.echo(report.message, err=True)
    raise SystemExit(1)
