"""The `dsr db` and `dsr audit` commands: migrate the tool's own store, check its audit log and
export the log's anchor.

Both take the store's URL from --database-url, by default the settings' DATABASE_URL (env
DSR_DATABASE_URL), else the SQLite file the application uses, `instance/dsr.sqlite3`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TextIO

import click
from alembic import command
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from dsr import db, store_models
from dsr.commands import DeskGroup, command_settings
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
@click.option(
    "--anchor",
    "anchor_file",
    type=click.File("r", encoding="utf-8"),
    help="An anchor written earlier by `dsr audit anchor --out`: the log must still hold it.",
)
@database_url_option
def audit_verify(anchor_file: TextIO | None, database_url: str) -> None:
    """Check every event against its hash; report the first one edited, removed or reordered."""
    from dsr.audit.anchor import AnchorUnreadable, read_anchor
    from dsr.audit.models import verify_audit

    anchor = None
    if anchor_file is not None:
        try:
            anchor = read_anchor(anchor_file.read())
        except AnchorUnreadable as error:
            raise click.BadParameter(str(error), param_hint="--anchor") from None
    with current_store(database_url, "read") as engine, db.open_session(engine) as session:
        report = verify_audit(db_session=session, anchor=anchor)
    if report.ok:
        plural = "" if report.events_checked == 1 else "s"
        click.echo(f"Audit trail intact: {report.events_checked} event{plural}.")
        if report.contents_removed:
            click.echo(
                f"The content of {report.contents_removed} of them was removed by "
                "minimisation; their digests still verify."
            )
        if anchor is not None:
            click.echo(f"The log still holds the anchor at event #{anchor.sequence}.")
        return
    click.echo(report.message, err=True)
    raise SystemExit(1)


@audit_group.command("anchor")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the anchor to this JSON file instead of printing it.",
)
@click.option("--email", is_flag=True, help="Also email it to every active DPO and admin.")
@database_url_option
def audit_anchor(out: Path | None, email: bool, database_url: str) -> None:
    """Export the chain's anchor (its last event's number and hash, the time, the number of
    events; no personal data), to keep where the store's administrators cannot rewrite it."""
    from dsr.audit.anchor import LogNotIntact, email_anchor, take_anchor
    from dsr.languages import Language

    language = Language(str(command_settings().values.get("STAFF_LANGUAGE") or "fr"))
    with current_store(database_url, "read") as engine, db.transaction(engine) as session:
        try:
            anchor = take_anchor(db_session=session, now=db.utcnow())
        except LogNotIntact as error:
            click.echo(f"error: no anchor taken: {error}", err=True)
            raise SystemExit(1) from None
        if out is not None:  # before the emails are committed: nothing half-done if it fails
            try:
                out.write_text(anchor.to_json() + "\n", encoding="utf-8")
            except OSError as error:
                raise click.FileError(str(out), hint=error.strerror or str(error)) from None
        queued = (
            email_anchor(db_session=session, anchor=anchor, language=language, now=anchor.taken_at)
            if email
            else 0
        )
    if out is None:
        click.echo(anchor.to_json())
    else:
        click.echo(f"Anchor of event #{anchor.sequence} ({anchor.events} events) written to {out}.")
    if email:
        click.echo(f"Anchor emailed to {queued} member{'' if queued == 1 else 's'} of staff.")
