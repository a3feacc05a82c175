"""`dsr request run REF` and `dsr request purge-reports`: carry out an approved (or failed)
request, and delete the reports whose delivery expired.

Settings come from the environment as the web application reads them (DSR_DATA_MAP,
DSR_REPORTS_DIR, DSR_DELIVERY_DAYS..., and the variables the map's systems name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from dsr import config, db, store_models
from dsr.config import default_instance_path
from dsr.delivery.service import purge_expired_reports
from dsr.execution.runner import (
    EXECUTION_SETTINGS,
    RequestNotRunnable,
    failure_reason,
    run_request,
)
from dsr.requests.models import DataRequest
from dsr.requests.status import get_by_reference, normalize_reference
from dsr.requests.workflow import Status
from dsr.store_cli import database_url_option, fail_on_database_error

PREFIX = "DSR_"


def settings_from_environment(map_path: Path | None = None) -> dict[str, Any]:
    """Return the settings of a run from DSR_... variables, as `create_app` would read them."""
    environment: Mapping[str, str] = dict(os.environ)
    settings: dict[str, Any] = {**EXECUTION_SETTINGS}
    settings.update(
        {
            key.removeprefix(PREFIX): value
            for key, value in environment.items()
            if key.startswith(PREFIX)
        }
    )
    settings["SYSTEM_ENVIRONMENT"] = environment
    settings["INSTANCE_PATH"] = str(default_instance_path())
    if map_path is not None:
        settings["DATA_MAP"] = str(map_path)
    return settings


def _map_path() -> Path | None:
    """The map chosen with `dsr --map FILE`, if the root command holds one."""
    root = click.get_current_context().find_root().obj
    path = getattr(root, "map_path", None)
    return Path(path) if path is not None else None


@click.group("request")
def request_group() -> None:
    """Carry out requests and manage their reports."""


@request_group.command("run")
@click.argument("reference")
@database_url_option
def request_run(reference: str, database_url: str) -> None:
    """Carry out the approved (or failed) request REFERENCE; exit 1 if it fails."""
    settings = settings_from_environment(_map_path())
    try:  # an erasure's certificate link starts with DSR_PUBLIC_URL
        config.check_settings(settings)
    except config.InsecureConfiguration as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    store_models.import_models()
    engine = db.make_engine(database_url)
    try:
        db.ensure_database_is_current(engine)
        with db.open_session(engine) as session:
            found = get_by_reference(session, reference)
        if found is None or found.id is None:
            click.echo(f"error: no request {normalize_reference(reference)}.", err=True)
            raise SystemExit(1)
        status = run_request(
            engine=engine,
            request_id=found.id,
            settings=settings,
            now=db.utcnow(),
        )
        reason: str | None = None
        if status is not Status.COMPLETED:
            with db.open_session(engine) as session:
                failed = session.get(DataRequest, found.id)
                reason = failure_reason(session, failed) if failed is not None else None
    except RequestNotRunnable as error:
        click.echo(f"error: {error.message}", err=True)
        raise SystemExit(1) from None
    except db.DatabaseNotUpToDate as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "read", error)
    finally:
        engine.dispose()
    if status is Status.COMPLETED:
        click.echo(f"{found.reference} completed.")
        return
    click.echo(f"{found.reference} failed: {reason}", err=True)
    raise SystemExit(1)


@request_group.command("purge-reports")
@database_url_option
def request_purge_reports(database_url: str) -> None:
    """Delete the files, collected data and rows of the reports whose delivery expired."""
    store_models.import_models()
    engine = db.make_engine(database_url)
    try:
        db.ensure_database_is_current(engine)
        purged = purge_expired_reports(engine=engine, now=db.utcnow())
    except db.DatabaseNotUpToDate as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "purge", error)
    finally:
        engine.dispose()
    click.echo(f"Deleted {purged} expired report(s).")
