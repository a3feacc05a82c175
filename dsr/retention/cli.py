"""`dsr retention plan` and `dsr retention run`: the map's retention periods, counted or applied.

Settings come from the desk's one settings object, as for `dsr request run` (DSR_DATA_MAP,
DSR_RETENTION_..., and the variables the map's systems name). Only names and counts are printed,
never values.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from gettext import NullTranslations

import click
from sqlalchemy.exc import SQLAlchemyError

from dsr import db, store_models
from dsr.commands import DeskGroup, staff_catalogue
from dsr.config import DEFAULTS, InsecureConfiguration, current_settings
from dsr.db import utcnow
from dsr.execution.targets import ChangeRefused, secret_key
from dsr.languages import Language, staff_language, translations
from dsr.retention.approval import carry_out, record_sweep
from dsr.retention.models import SweepTrigger
from dsr.retention.service import plan_retention_now
from dsr.store_cli import database_url_option, fail_on_database_error
from inventory.anonymisation import ErasurePlanError
from inventory.loader import MapError
from inventory.model import ErasureAction
from inventory.retention import CategorySweep, RetentionPlan
from inventory.systems import SystemUnavailable


@click.group("retention", cls=DeskGroup)
def retention_group() -> None:
    """Apply the data map's retention periods."""


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Turn what a user can put right (a store to migrate, a missing secret, a map that does not
    load or does not fit a system) into one line on stderr and exit 1, never a traceback."""
    try:
        yield
    except MapError as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from None
    except ChangeRefused as error:
        click.echo(f"error: {error.message}", err=True)
        raise SystemExit(1) from None
    except ErasurePlanError as error:  # the map asks what a system cannot hold: staff's words
        click.echo(f"error: {error.said(staff_catalogue().gettext)}", err=True)
        raise SystemExit(1) from None
    except (
        db.DatabaseNotUpToDate,
        SystemUnavailable,
        ValueError,
        InsecureConfiguration,
    ) as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None


@retention_group.command("plan")
@database_url_option
def retention_plan(database_url: str) -> None:
    """Show, per system and category, what `dsr retention run` would do now; change nothing."""
    store_models.import_models()
    engine = db.make_engine(database_url)
    try:
        with _one_line_errors():
            db.ensure_database_is_current(engine)
            plan = plan_retention_now(
                engine=engine, settings=current_settings().for_run(), now=utcnow()
            )
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "plan the retention sweeps with", error)
    finally:
        engine.dispose()
    show_plan(plan)


@retention_group.command("run")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help=f"Rows per batch, each in its own transaction "
    f"(default DSR_RETENTION_BATCH_SIZE, else {DEFAULTS['RETENTION_BATCH_SIZE']}).",
)
@database_url_option
def retention_run(batch_size: int | None, database_url: str) -> None:
    """Warn inactive account holders, then sweep every category; safe to run again. The sweep
    is recorded with its report, as approved by the console (see the dashboard's Retention)."""
    store_models.import_models()
    engine = db.make_engine(database_url)
    settings = current_settings().for_run()
    now = utcnow()
    try:
        with _one_line_errors():
            secret_key(settings)  # before anything is sent or swept
            db.ensure_database_is_current(engine)
            plan = plan_retention_now(engine=engine, settings=settings, now=now)
            # Recorded as every sweep is, approved by the person at the console: the dashboard
            # shows it, and it stands for the map's approval at the next nightly sweep.
            sweep = record_sweep(
                engine=engine,
                settings=settings,
                now=now,
                trigger=SweepTrigger.CONSOLE,
                plan=plan,
            )
            total = sum(s.total for s in plan.sweeps)
            with click.progressbar(length=total, label="Sweeping", file=sys.stderr) as bar:
                report = carry_out(
                    engine=engine,
                    settings=settings,
                    sweep_id=sweep.id or 0,
                    now=now,
                    batch_size=batch_size,
                    progress=bar.update,
                )
            if report is None:
                raise ValueError("the data map changed while the sweep started: run it again")
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "run the retention sweeps with", error)
    finally:
        engine.dispose()
    t = staff_catalogue()
    click.echo(t.gettext("Warnings sent: %(count)d") % {"count": report.warnings_sent})
    for result in report.categories:
        followers = "".join(
            ", " + t.gettext("%(count)d of %(table)s") % {"count": n, "table": table}
            for table, n in result.followers.items()
        )
        verb = _verb(result.action, t)
        click.echo(f"{result.system} / {result.category}: {verb} {result.rows}{followers}")
    click.echo(t.gettext("Rows changed: %(count)d") % {"count": report.rows})


def _verb(action: ErasureAction, t: NullTranslations) -> str:
    if action is ErasureAction.ANONYMIZE:
        return t.pgettext("retention sweep", "anonymise")
    return t.pgettext("retention sweep", "delete")


def show_plan(plan: RetentionPlan, language: Language | None = None) -> None:
    """Print what a plan does, per system and category, in `language` (by default the staff's:
    DSR_STAFF_LANGUAGE), names and counts only."""
    language = language or staff_language(current_settings().values)
    t = translations(language)
    for system, sweeps in plan.by_system().items():
        click.echo(system)
        for sweep in sweeps:
            click.echo(f"  {sweep.category} ({_rule(sweep, t)}): {_sweep_line(sweep, t)}")
            for follower in sweep.followers:
                with_them = t.ngettext(
                    "with them: %(num)d row of %(table)s deleted",
                    "with them: %(num)d rows of %(table)s deleted",
                    follower.rows,
                ) % {"num": follower.rows, "table": follower.table}
                click.echo(f"      {with_them}")
            for line in _notes(sweep, t, language):
                click.echo(f"      {line}")


def _sweep_line(sweep: CategorySweep, t: NullTranslations) -> str:
    """Say in one line what a category's sweep does (names and counts only)."""
    oldest = sweep.oldest.isoformat() if sweep.oldest is not None else "-"
    rows = t.ngettext("%(num)d row of %(table)s", "%(num)d rows of %(table)s", sweep.rows) % {
        "num": sweep.rows,
        "table": sweep.table,
    }
    oldest_said = t.gettext("oldest %(column)s: %(date)s") % {
        "column": sweep.date_column,
        "date": oldest,
    }
    return f"{_verb(sweep.action, t)} {rows} ({oldest_said})"


def _rule(sweep: CategorySweep, t: NullTranslations) -> str:
    fallback = "".join(
        t.gettext(", else %(column)s") % {"column": column} for column in sweep.fallback
    )
    return t.gettext("%(period)s from %(start)s%(fallback)s, before %(cutoff)s") % {
        "period": sweep.period,
        "start": f"{sweep.table}.{sweep.date_column}",
        "fallback": fallback,
        "cutoff": sweep.cutoff.date().isoformat(),
    }


def _notes(sweep: CategorySweep, t: NullTranslations, language: Language) -> list[str]:
    lang = language.value
    notes = []
    if sweep.condition is not None:
        notes.append(t.gettext("condition: %(text)s") % {"text": sweep.condition.get(lang)})
    if sweep.no_date:
        notes.append(
            t.ngettext(
                "%(num)d row has no start date: never swept",
                "%(num)d rows have no start date: never swept",
                sweep.no_date,
            )
            % {"num": sweep.no_date}
        )
    if sweep.referenced:
        notes.append(
            t.gettext("expired but still referenced by kept rows: %(num)d kept")
            % {"num": sweep.referenced}
        )
    for blocked in sweep.blocked:
        notes.append(
            "  "
            + t.gettext(
                "%(num)d of them kept by rows of %(table)s (%(columns)s) that no sweep takes now"
            )
            % {"num": blocked.rows, "table": blocked.table, "columns": blocked.columns}
        )
    if sweep.held:
        notes.append(
            t.gettext("expired, waiting for the warning period: %(num)d rows") % {"num": sweep.held}
        )
    if sweep.legal_hold:
        notes.append(
            t.gettext("expired, held for a legal claim: %(num)d rows kept")
            % {"num": sweep.legal_hold}
        )
    if sweep.not_swept:
        notes.append(
            t.gettext("not swept (the map gives them no date): %(names)s")
            % {"names": ", ".join(sweep.not_swept)}
        )
    return notes
