"""The `dsr db` commands: upgrade creates or brings the store up to date, current reports it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import make_url

from dsr import db
from dsr.store_cli import audit_group, db_group


def test_upgrade_then_current(engine_url: str) -> None:
    runner = CliRunner()
    shown = make_url(engine_url).render_as_string(hide_password=True)
    head = db.head_revision()

    behind = runner.invoke(db_group, ["current", "--database-url", engine_url])
    assert (behind.exit_code, behind.output) == (
        1,
        f"(empty) (behind: the newest revision is {head})\n",
    )

    first = runner.invoke(db_group, ["upgrade", "--database-url", engine_url])
    assert first.exit_code == 0, first.output
    assert (
        first.output == f"The database at {shown} was upgraded from revision (empty) to {head}.\n"
    )

    again = runner.invoke(db_group, ["upgrade", "--database-url", engine_url])
    assert again.output == f"The database at {shown} is up to date (revision {head}).\n"

    current = runner.invoke(db_group, ["current", "--database-url", engine_url])
    assert (current.exit_code, current.output) == (0, f"{head} (up to date)\n")


def test_the_url_comes_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'folder' / 'store.sqlite3'}"
    result = CliRunner().invoke(db_group, ["upgrade"], env={"DSR_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "deep" / "folder" / "store.sqlite3").exists()


def test_audit_verify_refuses_a_database_that_is_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.sqlite3'}"
    result = CliRunner().invoke(audit_group, ["verify", "--database-url", url])
    assert result.exit_code == 1
    assert "is not up to date: run `dsr db upgrade`" in result.output


@pytest.mark.databases("postgresql")
def test_an_unreachable_server_is_one_line_and_exit_1(engine_kind: str) -> None:
    url = "postgresql+psycopg://nobody:pw@127.0.0.1:1/nothing"
    result = CliRunner().invoke(db_group, ["upgrade", "--database-url", url])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot migrate postgresql+psycopg://nobody:***@")
    assert "pw@" not in result.output
