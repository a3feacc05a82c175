"""`dsr api token`: a token is printed once, stored only as a digest, listed and revoked."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import Session, select

from dsr.api.cli import api_group
from dsr.api.models import ApiToken


def invoke(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(api_group, ["token", *args, "--database-url", url])
    return result.exit_code, result.output


@pytest.mark.databases("sqlite", "postgresql")
def test_create_prints_the_token_once_and_stores_its_digest(
    migrated_url: str, store: Engine
) -> None:
    code, output = invoke(migrated_url, "create", "learner-platform")
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    assert token.startswith("dsr_") and len(token) > 40
    with Session(store) as session:
        row = session.exec(select(ApiToken)).one()
    assert row.name == "learner-platform"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.prefix, row.token_hash)

    code, output = invoke(migrated_url, "create", "learner-platform")
    assert code == 1 and "already has a token" in output

    code, output = invoke(migrated_url, "list")
    assert code == 0 and "learner-platform" in output and token not in output
    assert "never used" in output


def test_revoke_and_bad_names(migrated_url: str, store: Engine) -> None:
    invoke(migrated_url, "create", "crm")
    code, output = invoke(migrated_url, "revoke", "crm")
    assert code == 0 and "revoked" in output
    with Session(store) as session:
        assert session.exec(select(ApiToken)).one().revoked_at is not None
    assert "revoked" in invoke(migrated_url, "list")[1]

    code, output = invoke(migrated_url, "revoke", "nobody")
    assert code == 1 and "no client named 'nobody'" in output
    code, output = invoke(migrated_url, "create", "x" * 101)
    assert code == 2 and "1 to 100 characters" in output


def test_a_store_that_is_behind_is_refused(engine_url: str) -> None:
    code, output = invoke(engine_url, "create", "learner-platform")
    assert code == 1 and "run `dsr db upgrade`" in output
