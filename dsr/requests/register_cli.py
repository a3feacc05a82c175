"""`dsr request register --from YYYY-MM-DD --to YYYY-MM-DD --out FILE`: write the register of the
data-subject requests received in a period (days on the organisation's calendar), as CSV, XLSX or
PDF, in French or English. It holds no personal data of the requesters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from dsr import db, store_models
from dsr.commands import in_app_context
from dsr.config import current_settings
from dsr.datamap import desk_map
from dsr.requests.register import Period, PeriodError, request_register
from dsr.requests.register_files import FORMATS, register_file
from dsr.store_cli import current_store, database_url_option
from inventory.loader import MapError

_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command("register")
@click.option("--from", "first", type=_DAY, required=True, help="First day received (YYYY-MM-DD).")
@click.option("--to", "last", type=_DAY, required=True, help="Last day received, included.")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="pdf", show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="File to write."
)
@database_url_option
@in_app_context
def request_register_command(
    first: datetime, last: datetime, language: str, fmt: str, out: Path, database_url: str
) -> None:
    """Write the register of the requests received in a period (no personal data)."""
    try:
        organisation = desk_map(current_settings().values).organisation
    except MapError as error:
        click.echo(
            f"error: the data map has {len(error.problems)} problem(s): run `dsr map check`",
            err=True,
        )
        raise SystemExit(1) from None
    try:
        period = Period.checked(first.date(), last.date(), organisation.zone)
    except PeriodError as error:
        raise click.BadParameter(str(error), param_hint="'--to'") from None
    store_models.import_models()
    with current_store(database_url, "read") as engine, db.open_session(engine) as session:
        made = request_register(db_session=session, period=period, now=db.utcnow())
    content = register_file(made, fmt, language, organisation=organisation.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    click.echo(
        f"Register of {len(made.rows)} request(s) received from {period.first} to "
        f"{period.last} written to {out} ({len(content):,} bytes)."
    )
