"""`dsr staff create|list`: the password is prompted twice or read from stdin, and checked."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import Session, select

from dsr.accounts.cli import staff_group
from dsr.accounts.models import StaffRole, StaffUser
from dsr.accounts.service import password_matches

PASSWORD = "a long enough passphrase"


def invoke(url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(staff_group, [*args, "--database-url", url], input=stdin)
    return result.exit_code, result.output


@pytest.mark.databases("sqlite", "postgresql")
def test_create_with_the_password_from_stdin(migrated_url: str, store: Engine) -> None:
    code, output = invoke(
        migrated_url,
        "create",
        "DPO@Example.org",
        "--role",
        "dpo",
        "--name",
        "Dominique",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, output
    assert PASSWORD not in output
    with Session(store) as session:
        user = session.exec(select(StaffUser)).one()
    assert (user.email, user.role, user.name) == ("dpo@example.org", StaffRole.DPO, "Dominique")
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert password_matches(user, PASSWORD)

    code, output = invoke(
        migrated_url, "create", "dpo@example.org", "--role", "admin", stdin=f"{PASSWORD}\n" * 2
    )
    assert code == 1 and "exists already" in output
    code, output = invoke(migrated_url, "list")
    assert code == 0 and "dpo@example.org\tdpo\tactive\tpassword only" in output


def test_create_prompts_twice_and_refuses_weak_passwords(migrated_url: str, store: Engine) -> None:
    code, output = invoke(
        migrated_url, "create", "a@example.org", "--role", "admin", stdin="short\nshort\n"
    )
    assert code == 1 and "at least 12 characters" in output
    code, output = invoke(
        migrated_url,
        "create",
        "a@example.org",
        "--role",
        "admin",
        stdin=f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0, output
    assert "Repeat the password" in output
    code, output = invoke(migrated_url, "create", "b@example.org", "--role", "boss", stdin="")
    assert code == 2
    with Session(store) as session:
        assert [u.email for u in session.exec(select(StaffUser)).all()] == ["a@example.org"]


def test_a_store_that_is_behind_is_refused(engine_url: str) -> None:
    code, output = invoke(
        engine_url, "create", "a@example.org", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert code == 1 and "run `dsr db upgrade`" in output
