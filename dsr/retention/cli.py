"""`dsr retention plan` and `dsr retention run`: the map's retention periods, counted or applied.

Settings come from the desk's one settings object, as for `dsr request run` (DSR_DATA_MAP,
DSR_RETENTION_..., and the variables the map's systems name). Only names and counts are printed,
never values.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import SQLAlchemyError

from dsr import db, store_models
from dsr.commands import DeskGroup
from dsr.config import DEFAULTS, InsecureConfiguration, current_settings
from dsr.db import utcnow
from dsr.execution.targets import ChangeRefused, secret_key
from dsr.retention.approval import carry_out, record_sweep
from dsr.retention.models import SweepTrigger
from dsr.retention.service import describe_sweep, plan_retention_now
from dsr.store_cli import database_url_option, fail_on_database_error
from inventory.anonymisation import ErasurePlanError
from inventory.loader import MapError
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
    except (
        db.DatabaseNotUpToDate,
        SystemUnavailable,
        ErasurePlanError,
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
    click.echo(f"Warnings sent: {report.warnings_sent}")
    for result in report.categories:
        followers = "".join(f", {n} of {t}" for t, n in result.followers.items())
        click.echo(
            f"{result.system} / {result.category}: {result.action.value} {result.rows}{followers}"
        )
    click.echo(f"Rows changed: {report.rows}")


def show_plan(plan: RetentionPlan) -> None:
    """Print what a plan does, per system and category: names and counts only."""
    for system, sweeps in plan.by_system().items():
        click.echo(system)
        for sweep in sweeps:
            click.echo(f"  {sweep.category} ({_rule(sweep)}): {describe_sweep(sweep)}")
            for follower in sweep.followers:
                click.echo(f"      with them: {follower.rows} rows of {follower.table} deleted")
            for line in _notes(sweep):
                click.echo(f"      {line}")


def _rule(sweep: CategorySweep) -> str:
    fallback = "".join(f", else {column}" for column in sweep.fallback)
    return (
        f"{sweep.period} from {sweep.table}.{sweep.date_column}{fallback}, "
        f"before {sweep.cutoff:%Y-%m-%d}"
    )


def _notes(sweep: CategorySweep) -> list[str]:
    notes = []
    if sweep.condition is not None:
        notes.append(f"condition: {sweep.condition.en}")
    if sweep.no_date:
        notes.append(f"{sweep.no_date} rows have no start date: never swept")
    if sweep.referenced:
        notes.append(f"expired but still referenced by kept rows: {sweep.referenced} kept")
    for blocked in sweep.blocked:
        notes.append(
            f"  {blocked.rows} of them kept by rows of {blocked.table} ({blocked.columns}) "
            "that no sweep takes now"
        )
    if sweep.held:
        notes.append(f"expired, waiting for the warning period: {sweep.held} rows")
    if sweep.legal_hold:
        notes.append(f"expired, held for a legal claim: {sweep.legal_hold} rows kept")
    if sweep.not_swept:
        names = ", ".join(sweep.not_swept)
        notes.append(f"not swept (the map gives them no date): {names}")
    return notes
