"""The database fixtures give each test its own empty, working database and leave nothing behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    make_url,
    select,
)
from sqlalchemy.engine import Engine

from tests import processes
from tests.databases import (
    ENGINES,
    EngineKind,
    database_exists,
    fresh_database,
    kind_of,
    new_database_name,
)
from tests.processes import spawn, stop
from tests.waiting import wait_until

metadata = MetaData()
note = Table(
    "note",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String(100), nullable=False),
)


def test_engine_url_is_an_empty_working_database(engine_kind: EngineKind, engine_url: str) -> None:
    assert kind_of(engine_url) == engine_kind
    assert database_exists(engine_url)
    engine = create_engine(engine_url)
    assert inspect(engine).get_table_names() == []
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(note.insert(), [{"body": "élève ✓"}, {"body": "second"}])
    with engine.connect() as connection:
        assert connection.execute(select(note.c.body).order_by(note.c.id)).scalars().all() == [
            "élève ✓",
            "second",
        ]
    # Left undisposed on purpose: the fixture disposes the engines that used its database.


def test_database_engine_is_bound_to_engine_url(database_engine: Engine, engine_url: str) -> None:
    assert database_engine.url.render_as_string(hide_password=False) == engine_url
    with database_engine.connect() as connection:
        assert connection.execute(select(1)).scalar_one() == 1


@pytest.mark.databases("sqlite", "mariadb")
def test_the_marker_narrows_the_engines(request: pytest.FixtureRequest, engine_url: str) -> None:
    assert request.node.callspec.id in ("sqlite", "mariadb")


@pytest.mark.parametrize("kind", ENGINES)
def test_databases_are_isolated_and_dropped_after(kind: EngineKind, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as first, fresh_database(kind, tmp_path) as second:
        assert first != second
        first_engine = create_engine(first)
        metadata.create_all(first_engine)
        with first_engine.begin() as connection:
            connection.execute(note.insert(), {"body": "only in the first"})
        second_engine = create_engine(second)
        assert inspect(second_engine).get_table_names() == []
        # An open connection at the end of the block must not stop the drop.
        leftover = first_engine.connect()
        leftover.execute(select(note.c.id))
    leftover.invalidate()  # its server side is gone: close it without a rollback
    assert not database_exists(first)
    assert not database_exists(second)


LEFTOVER = """
import sys, time
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

engine = create_engine(sys.argv[1], poolclass=NullPool)
while True:  # a process a failed test left behind: it holds a lock, and reconnects when cut
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE note SET body = 'held' WHERE id = 1"))
            print("holding", flush=True)
            time.sleep(0.2)
    except Exception:
        time.sleep(0.01)
"""


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_database_is_dropped_while_a_leftover_process_keeps_using_it(
    kind: EngineKind, tmp_path: Path
) -> None:
    output = tmp_path / "leftover.txt"
    leftover: subprocess.Popen[bytes] | None = None
    with output.open("w") as handle:
        try:
            with fresh_database(kind, tmp_path) as url:
                engine = create_engine(url)
                metadata.create_all(engine)
                with engine.begin() as connection:
                    connection.execute(note.insert(), {"body": "first"})
                leftover = spawn([sys.executable, "-c", LEFTOVER, url], stdout=handle)
                wait_until(lambda: "holding" in output.read_text(), "the leftover's transaction")
            assert not database_exists(url)
            assert leftover.poll() is None  # still trying to reconnect: the drop did not wait
            with fresh_database(kind, tmp_path) as next_one:  # the next test's setup
                assert database_exists(next_one)
        finally:
            if leftover is not None:
                stop(leftover)


def test_sqlite_without_a_directory_cleans_its_temporary_folder() -> None:
    with fresh_database("sqlite") as url:
        folder = Path(str(make_url(url).database)).parent
        assert folder.is_dir()
    assert not folder.exists()


def test_names_differ_per_process_and_call() -> None:
    names = {new_database_name() for _ in range(50)}
    assert len(names) == 50
    assert all(re.fullmatch(rf"dsr_t_{os.getpid()}_[0-9a-f]{{12}}", name) for name in names)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown database engine"), fresh_database("oracle"):  # type: ignore[arg-type]
        pass


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
@pytest.mark.timeout(600)  # a whole pytest run inside, bounded at 240 s
def test_a_server_that_cannot_be_started_fails_the_run(workers: list[str], tmp_path: Path) -> None:
    """Point PostgreSQL at a closed port: the run must fail with the server's name, not skip."""
    (tmp_path / "test_needs_pg.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.databases("postgresql")
            def test_needs_pg(engine_url):
                pass
            """
        )
    )
    repo = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "DSR_TEST_POSTGRES_ADMIN_URL": "postgresql+psycopg://postgres@127.0.0.1:9/postgres",
    }
    result = processes.run(  # in a group of its own: xdist's workers are ended with it
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            *workers,
            "--rootdir",
            str(tmp_path),
            "-c",
            str(repo / "pyproject.toml"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=repo,
        env=env,
        timeout=240,  # a bound for a hang only
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PostgreSQL at 127.0.0.1:9 is not running and could not be started" in (
        result.stdout + result.stderr
    )
