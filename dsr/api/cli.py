"""`dsr api token create|list|revoke`: the bearer tokens of the organisation's own systems, and
`dsr api callbacks send`: deliver the status callbacks that are due.

A token is shown once, when it is created; the store keeps only its SHA-256 digest.
"""

from __future__ import annotations

import click
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select

from dsr import db, store_models
from dsr.api.callback_addresses import (
    ALLOWED_NETWORKS_SETTING,
    IPNetwork,
    parse_allowed_networks,
)
from dsr.api.callbacks import deliver_due_callbacks
from dsr.api.models import ApiToken, ApiTokenCreate
from dsr.commands import DeskGroup, command_settings
from dsr.config import DEFAULT_SECRET_KEY
from dsr.store_cli import database_url_option, fail_on_database_error


@click.group("api", cls=DeskGroup)
def api_group() -> None:
    """Manage the JSON API's clients."""


@api_group.group("token")
def token_group() -> None:
    """Create, list and revoke API bearer tokens."""


def _checked_name(name: str) -> str:
    try:
        return ApiTokenCreate(name=name.strip()).name
    except ValueError:
        raise click.BadParameter("give a name of 1 to 100 characters", param_hint="NAME") from None


@token_group.command("create")
@click.argument("name")
@database_url_option
def token_create(name: str, database_url: str) -> None:
    """Create a token for the client NAME (e.g. learner-platform) and print it once."""
    name = _checked_name(name)
    engine = db.make_engine(database_url)
    try:
        db.ensure_database_is_current(engine)
        with db.transaction(engine) as session:
            row, token = ApiToken.issue(name, now=db.utcnow())
            session.add(row)
    except db.DatabaseNotUpToDate as error:
        raise click.ClickException(str(error)) from None
    except IntegrityError:
        raise click.ClickException(f"a client named {name!r} already has a token") from None
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "create a token in", error)
    finally:
        engine.dispose()
    click.echo(f"Token for {name} (shown only now; store it in the client's secrets):")
    click.echo(token)


@token_group.command("list")
@database_url_option
def token_list(database_url: str) -> None:
    """List the clients with their token prefix, creation, last use and revocation."""
    engine = db.make_engine(database_url)
    try:
        with db.transaction(engine) as session:
            rows = session.exec(select(ApiToken).order_by(col(ApiToken.name))).all()
            lines = [
                f"{row.name}\t{row.prefix}…\tcreated {row.created_at:%Y-%m-%d}\t"
                + (f"last used {row.last_used_at:%Y-%m-%d}" if row.last_used_at else "never used")
                + (f"\trevoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "")
                for row in rows
            ]
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "read the tokens of", error)
    finally:
        engine.dispose()
    click.echo("\n".join(lines) if lines else "No API token yet: `dsr api token create NAME`.")


@token_group.command("revoke")
@click.argument("name")
@database_url_option
def token_revoke(name: str, database_url: str) -> None:
    """Revoke the token of client NAME: its calls are refused from now on."""
    engine = db.make_engine(database_url)
    try:
        with db.transaction(engine) as session:
            row = session.exec(select(ApiToken).where(ApiToken.name == name.strip())).first()
            if row is None:
                raise click.ClickException(f"no client named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = db.utcnow()
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "revoke a token in", error)
    finally:
        engine.dispose()
    click.echo(f"The token of {name} is revoked.")


@api_group.group("callbacks")
def callbacks_group() -> None:
    """Deliver the signed status callbacks of API requests."""


def _configured_secret() -> str | None:
    """The settings' SECRET_KEY (DSR_SECRET_KEY), unless it is the development default: the
    option is then required."""
    secret = command_settings().values.get("SECRET_KEY")
    return None if secret in (None, "", DEFAULT_SECRET_KEY) else str(secret)


def _required(context: click.Context, parameter: click.Parameter, value: str | None) -> str:
    """Refuse a missing value as click's `required` does (it lets a default of None through)."""
    if value is None:
        raise click.MissingParameter(ctx=context, param=parameter)
    return value


def _networks(
    _context: click.Context, _parameter: click.Parameter, value: str
) -> tuple[IPNetwork, ...]:
    try:
        return parse_allowed_networks(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@callbacks_group.command("send")
@database_url_option
@click.option(
    "--secret-key",
    default=_configured_secret,
    required=True,
    callback=_required,
    help="The application's SECRET_KEY, from which each client's signing secret is derived "
    "(env DSR_SECRET_KEY).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Send at most this many callbacks.",
)
@click.option(
    "--allowed-networks",
    default=lambda: command_settings().values["CALLBACK_ALLOWED_NETWORKS"],
    callback=_networks,
    help="Internal networks the callbacks may reach, e.g. 10.0.0.0/8,127.0.0.0/8 (env "
    f"{ALLOWED_NETWORKS_SETTING}); other non-public addresses are refused.",
)
def callbacks_send(
    database_url: str, secret_key: str, limit: int, allowed_networks: tuple[IPNetwork, ...]
) -> None:
    """Send the status callbacks that are due, retries included (for cron or the scheduler);
    those the receiver does not take are rescheduled for a later run."""
    store_models.import_models()
    engine = db.make_engine(database_url)
    try:
        db.ensure_database_is_current(engine)
        report = deliver_due_callbacks(
            engine=engine,
            secret_key=secret_key,
            now=db.utcnow(),
            limit=limit,
            allowed_networks=allowed_networks,
        )
    except db.DatabaseNotUpToDate as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "read", error)
    finally:
        engine.dispose()
    click.echo(
        f"Sent {report.sent}, rescheduled {report.retried}, failed for good {report.failed}."
    )
