"""`dsr scheduler`: run the scheduler process; `dsr scheduler list`: the jobs and their next
runs; `dsr scheduler run-once JOB`: run one job now (also recorded on the dashboard)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from dsr import config, db, logs, store_models
from dsr.commands import DeskGroup, in_app_context
from dsr.config import current_settings
from dsr.outbox.smtp import SmtpSettingsError
from dsr.scheduler.jobs import JOBS, SCHEDULES, run_job
from dsr.scheduler.models import JobRun, SchedulerLease, scheduler_jobs
from dsr.scheduler.process import DEFAULT_LEASE_SECONDS, LEASE_NAME, run_process
from dsr.scheduler.runs import SchedulerSettings
from dsr.store_cli import database_url_option, fail_on_database_error


def _settings() -> SchedulerSettings:
    try:
        return SchedulerSettings.from_settings(current_settings())
    except (SmtpSettingsError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def _refuse_unsafe_production(settings: config.Settings) -> None:
    """Refuse to run with the default secret in production, as the web application does."""
    checked = settings.signing()
    try:
        if config.is_production(checked):
            config.check_production(checked)
    except config.InsecureConfiguration as error:
        raise click.ClickException(str(error)) from None


DATABASE_URL_KEY = "dsr.scheduler.database_url"
"""Where the group leaves its --database-url for the subcommands (click's shared `meta`)."""


def _engine(database_url: str) -> Engine:
    store_models.import_models()
    engine = db.make_engine(database_url)
    try:
        db.ensure_database_is_current(engine)
    except db.DatabaseNotUpToDate as error:
        engine.dispose()
        raise click.ClickException(str(error)) from None
    return engine


@click.group("scheduler", cls=DeskGroup, invoke_without_command=True)
@database_url_option
@click.option(
    "--lease-seconds",
    type=click.IntRange(min=3),
    default=DEFAULT_LEASE_SECONDS,
    show_default=True,
    help="How long the lease lasts unless renewed (renewed every third of it).",
)
@in_app_context
@click.pass_context
def scheduler_group(context: click.Context, database_url: str, lease_seconds: int) -> None:
    """Run the scheduled jobs (mail, callbacks, deadlines, expiry, purges, minimisation) until
    stopped; a second scheduler waits until the first one stops."""
    context.meta[DATABASE_URL_KEY] = database_url
    if context.invoked_subcommand is not None:
        return
    logs.configure(current_settings().log_format)  # as the web application's: JSON in production
    _refuse_unsafe_production(current_settings())
    settings = _settings()
    engine = _engine(database_url)
    try:
        run_process(
            engine, settings, say=lambda text: click.echo(text), lease_seconds=lease_seconds
        )
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "run the scheduler on", error)
    finally:
        engine.dispose()


def _shown(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _trigger(name: str) -> str:
    schedule = dict(SCHEDULES[name])
    kind = schedule.pop("trigger")
    if kind == "interval":
        return "every " + ", ".join(f"{value} {unit}" for unit, value in schedule.items())
    at = f"at {schedule['hour']:02d}:{schedule['minute']:02d} UTC"
    return (
        f"weekly on {schedule['day_of_week']} {at}" if "day_of_week" in schedule else f"daily {at}"
    )


@scheduler_group.command("list")
@click.pass_context
def scheduler_list(context: click.Context) -> None:
    """Show each job, when it runs, its next run and its last run."""
    database_url: str = context.meta[DATABASE_URL_KEY]
    engine = _engine(database_url)
    try:
        with db.open_session(engine) as session:
            next_runs = {
                row.id: row.next_run_time
                for row in session.execute(
                    select(scheduler_jobs.c.id, scheduler_jobs.c.next_run_time)
                )
            }
            lease = session.get(SchedulerLease, LEASE_NAME)
            last_runs: dict[str, JobRun] = {}
            for run in session.execute(select(JobRun).order_by(col(JobRun.started_at))).scalars():
                last_runs[run.job] = run
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "read", error)
    finally:
        engine.dispose()
    click.echo(f"{'job':<18} {'schedule':<26} {'next run':<24} last run")
    for name in JOBS:
        stamp = next_runs.get(name)
        next_run = (
            _shown(datetime.fromtimestamp(stamp, UTC))
            if stamp is not None
            else ("paused" if name in next_runs else "when the scheduler starts")
        )
        last = last_runs.get(name)
        last_shown = (
            f"{_shown(last.started_at)} ({last.items_done} done, {last.errors} errors)"
            if last
            else "never"
        )
        click.echo(f"{name:<18} {_trigger(name):<26} {next_run:<24} {last_shown}")
    if lease is not None and lease.expires_at > db.utcnow():
        click.echo(f"Lease held by {lease.owner} until {_shown(lease.expires_at)}.")
    else:
        click.echo("No scheduler is running.")


@scheduler_group.command("run-once")
@click.argument("job", type=click.Choice(list(JOBS)))
@click.pass_context
def scheduler_run_once(context: click.Context, job: str) -> None:
    """Run JOB now, once, and record the run; exit 1 if an item failed."""
    database_url: str = context.meta[DATABASE_URL_KEY]
    settings = _settings()
    engine = _engine(database_url)
    try:
        run = run_job(job, engine=engine, settings=settings, now=db.utcnow())
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "run a job on", error)
    finally:
        engine.dispose()
    click.echo(f"{job}: {run.items_done} done, {run.errors} errors.")
    if run.errors:
        click.echo(f"Errors: {run.error_summary}", err=True)
        raise SystemExit(1)
