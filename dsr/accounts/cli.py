"""`dsr staff create|list`: create the first accounts from the command line (later ones can be
invited from the admin's page). The password is prompted twice, or read from standard input."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from dsr import db
from dsr.accounts import service
from dsr.accounts.models import StaffRole
from dsr.commands import DeskGroup
from dsr.store_cli import database_url_option, fail_on_database_error


@click.group("staff", cls=DeskGroup)
def staff_group() -> None:
    """Manage the staff accounts of the dashboard."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        "Password", hide_input=True, confirmation_prompt="Repeat the password"
    )
    return password


@staff_group.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([role.value for role in StaffRole]),
    required=True,
    help="admin (staff and settings), dpo (works requests), auditor (reads only).",
)
@click.option("--name", default="", help="The name shown in the dashboard.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@database_url_option
def staff_create(email: str, role: str, name: str, password_stdin: bool, database_url: str) -> None:
    """Create the staff account EMAIL with a password (at least 12 characters)."""
    address = email.strip()
    if "@" not in address or len(address) > 254:
        raise click.BadParameter("give an email address", param_hint="EMAIL")
    password = _read_password(password_stdin)
    try:
        service.check_password_strength(password)
    except service.WeakPassword as error:
        raise click.ClickException(str(error)) from None
    engine = db.make_engine(database_url)
    try:
        db.ensure_database_is_current(engine)
        with db.transaction(engine) as session:
            service.create_staff(
                db_session=session,
                email=address,
                role=StaffRole(role),
                name=name,
                password=password,
                now=db.utcnow(),
            )
    except db.DatabaseNotUpToDate as error:
        raise click.ClickException(str(error)) from None
    except service.StaffExists as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "create a staff account in", error)
    finally:
        engine.dispose()
    click.echo(f"Staff account created with the role {role}.")


@staff_group.command("list")
@database_url_option
def staff_list(database_url: str) -> None:
    """List the staff accounts: email, role, state and second factor."""
    engine = db.make_engine(database_url)
    try:
        with db.transaction(engine) as session:
            lines = [
                "\t".join(
                    (
                        user.email,
                        user.role.value,
                        "invited"
                        if user.invitation_pending
                        else ("active" if user.active else "inactive"),
                        "totp" if user.totp_enabled else "password only",
                    )
                )
                for user in service.list_staff(db_session=session)
            ]
    except SQLAlchemyError as error:
        fail_on_database_error(database_url, "read the staff of", error)
    finally:
        engine.dispose()
    click.echo("\n".join(lines) if lines else "No staff account yet: `dsr staff create EMAIL`.")
