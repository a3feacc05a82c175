"""`dsr request run REF` and `dsr request purge-reports`: carry out an approved (or failed)
request, and delete the reports whose delivery expired.

Settings come from the desk's one settings object, as the web application reads them
(DSR_DATA_MAP or `dsr --map`, DSR_REPORTS_DIR, DSR_DELIVERY_DAYS..., and the variables the map's
systems name).
"""

from __future__ import annotations

import click

from dsr import config, db, store_models
from dsr.commands import DeskGroup
from dsr.delivery.service import purge_expired_reports
from dsr.execution.runner import (
    RequestNotRunnable,
    failure_reason,
    run_request,
)
from dsr.requests.models import DataRequest
from dsr.requests.status import get_by_reference, normalize_reference
from dsr.requests.workflow import Status
from dsr.store_cli import current_store, database_url_option


@click.group("request", cls=DeskGroup)
def request_group() -> None:
    """Carry out requests and manage their reports."""


request_group.add_lazy_command(
    "plan",
    "dsr.execution.cli_plan:request_plan_command",
    "Print the erasure plan of request REFERENCE (nothing is changed).",
)
request_group.add_lazy_command(
    "register",
    "dsr.requests.register_cli:request_register_command",
    "Write the register of the requests received in a period (no personal data).",
)


@request_group.command("run")
@click.argument("reference")
@database_url_option
def request_run(reference: str, database_url: str) -> None:
    """Carry out the approved (or failed) request REFERENCE; exit 1 if it fails."""
    settings = config.current_settings().for_run()
    try:  # an erasure's certificate link starts with DSR_PUBLIC_URL
        config.check_settings(config.current_settings().signing(with_given=True))
    except config.InsecureConfiguration as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    store_models.import_models()
    with current_store(database_url, "read") as engine:
        try:
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
            if status is Status.FAILED:
                with db.open_session(engine) as session:
                    failed = session.get(DataRequest, found.id)
                    reason = failure_reason(session, failed) if failed is not None else None
        except RequestNotRunnable as error:
            click.echo(f"error: {error.message}", err=True)
            raise SystemExit(1) from None
    if status is Status.READY_TO_SEND:
        click.echo(
            f"{found.reference} carried out: ready to send (completed once its answer is "
            "delivered)."
        )
        return
    click.echo(f"{found.reference} failed: {reason}", err=True)
    raise SystemExit(1)


@request_group.command("purge-reports")
@database_url_option
def request_purge_reports(database_url: str) -> None:
    """Delete the files, collected data and rows of the reports whose delivery expired."""
    store_models.import_models()
    with current_store(database_url, "purge") as engine:
        purged = purge_expired_reports(engine=engine, now=db.utcnow())
    click.echo(f"Deleted {purged} expired report(s).")
