"""The demo tests' scratch databases follow the suite's rule: a server that is down fails."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("fixture", "variable", "url", "server"),
    [
        (
            "postgresql_scratch_url",
            "DSR_TEST_POSTGRES_ADMIN_URL",
            "postgresql+psycopg://postgres@127.0.0.1:9/postgres",
            "PostgreSQL at 127.0.0.1:9",
        ),
        (
            "mariadb_scratch_url",
            "DSR_TEST_MARIADB_ADMIN_URL",
            "mysql+pymysql://root@127.0.0.1:9/?charset=utf8mb4",
            "MariaDB at 127.0.0.1:9",
        ),
    ],
    ids=["postgresql", "mariadb"],
)
def test_a_server_that_is_down_fails_the_run_instead_of_skipping(
    fixture: str, variable: str, url: str, server: str, tmp_path: Path
) -> None:
    """Point the server at a closed port: the run must end with code 1 and the server's name."""
    (tmp_path / "test_needs_scratch.py").write_text(
        textwrap.dedent(
            f"""
            def test_needs_scratch({fixture}):
                pass
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.demo.conftest",
            "-p",
            "no:cacheprovider",
            "-rs",
            "--rootdir",
            str(tmp_path),
            "-c",
            str(REPO / "pyproject.toml"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, variable: url},
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "skipped" not in output
    assert f"{server} is not running and could not be started" in output


def test_scratch_databases_are_empty_and_in_utf8mb4(mariadb_scratch_url: str) -> None:
    engine = create_engine(mariadb_scratch_url)
    try:
        with engine.connect() as connection:
            charset = connection.execute(text("SELECT @@character_set_database")).scalar_one()
            tables = connection.execute(text("SHOW TABLES")).all()
    finally:
        engine.dispose()
    assert charset == "utf8mb4"
    assert tables == []
