"""`dsr outbox send`: deliver the queued emails that are due, with the SMTP settings DSR_SMTP_*.

Meant to be run by cron or the scheduler; messages that fail are rescheduled for a later run.
"""

from __future__ import annotations

import click

from dsr import db, store_models
from dsr.commands import DeskGroup
from dsr.config import current_settings
from dsr.outbox.service import deliver_due
from dsr.outbox.smtp import SmtpSettings, SmtpSettingsError
from dsr.store_cli import current_store, database_url_option


@click.group("outbox", cls=DeskGroup)
def outbox_group() -> None:
    """Deliver the outgoing emails."""


@outbox_group.command("send")
@database_url_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Send at most this many messages.",
)
def outbox_send(database_url: str, limit: int) -> None:
    """Send the messages that are due; reschedule those the SMTP server does not take.

    The server is read from DSR_SMTP_HOST, DSR_SMTP_PORT, DSR_SMTP_USERNAME, DSR_SMTP_PASSWORD,
    DSR_SMTP_STARTTLS, DSR_SMTP_SSL, DSR_SMTP_TIMEOUT and DSR_MAIL_SENDER.
    """
    try:
        settings = SmtpSettings.from_config(current_settings().values)
    except SmtpSettingsError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    store_models.import_models()
    with current_store(database_url, "read") as engine:
        report = deliver_due(
            engine_or_session_factory=engine, settings=settings, now=db.utcnow(), limit=limit
        )
    click.echo(
        f"Sent {report.sent}, rescheduled {report.retried}, failed for good {report.failed}."
    )
