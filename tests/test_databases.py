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
    text,
)
from sqlalchemy.engine import Engine

from dsr import db
from tests import processes
from tests.databases import (
    ENGINES,
    EngineKind,
    database_exists,
    fresh_database,
    kind_of,
    new_database_name,
    read_mariadb_template,
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


MARIADB_CATALOGUE = {
    "database": "SELECT default_character_set_name, default_collation_name "
    "FROM information_schema.schemata WHERE schema_name = :schema",
    "tables": "SELECT table_name, table_type, engine, row_format, table_collation, auto_increment,"
    " create_options, table_comment FROM information_schema.tables WHERE table_schema = :schema",
    "columns": "SELECT table_name, column_name, ordinal_position, column_default, is_nullable,"
    " column_type, character_set_name, collation_name, column_key, extra, generation_expression,"
    " column_comment FROM information_schema.columns WHERE table_schema = :schema",
    "indexes": "SELECT table_name, index_name, non_unique, seq_in_index, column_name, collation,"
    " sub_part, nullable, index_type, index_comment"
    " FROM information_schema.statistics WHERE table_schema = :schema",
    "constraints": "SELECT table_name, constraint_name, constraint_type"
    " FROM information_schema.table_constraints WHERE constraint_schema = :schema",
    "foreign keys": "SELECT table_name, constraint_name, referenced_table_name,"
    " unique_constraint_name, match_option, update_rule, delete_rule"
    " FROM information_schema.referential_constraints WHERE constraint_schema = :schema",
    "key columns": "SELECT table_name, constraint_name, column_name, ordinal_position,"
    " position_in_unique_constraint, referenced_table_schema = table_schema,"
    " referenced_table_name, referenced_column_name"
    " FROM information_schema.key_column_usage WHERE constraint_schema = :schema",
    "checks": "SELECT table_name, constraint_name, check_clause, level"
    " FROM information_schema.check_constraints WHERE constraint_schema = :schema",
    "triggers": "SELECT trigger_name, event_manipulation, event_object_table, action_order,"
    " action_condition, action_statement, action_orientation, action_timing, sql_mode, definer,"
    " character_set_client, collation_connection, database_collation"
    " FROM information_schema.triggers WHERE trigger_schema = :schema",
    "views": "SELECT table_name FROM information_schema.views WHERE table_schema = :schema",
    "routines": "SELECT routine_name FROM information_schema.routines"
    " WHERE routine_schema = :schema",
    "events": "SELECT event_name FROM information_schema.events WHERE event_schema = :schema",
}
"""What the catalogue says of a MariaDB database, the database's own name left out."""


def mariadb_contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Read the definition of the MariaDB database at `url` and every row of its tables, sorted."""
    schema = {"schema": make_url(url).database}
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            contents = {
                part: sorted(
                    (tuple(row) for row in connection.execute(text(query), schema)), key=repr
                )
                for part, query in MARIADB_CATALOGUE.items()
            }
            quote = connection.dialect.identifier_preparer.quote
            for table, *_ in contents["tables"]:
                rows = connection.execute(text(f"SELECT * FROM {quote(str(table))}"))
                contents[f"rows of {table}"] = sorted((tuple(row) for row in rows), key=repr)
    finally:
        engine.dispose()
    return contents


@pytest.mark.databases("mariadb")
def test_a_migrated_mariadb_store_is_the_database_the_migrations_build(migrated_url: str) -> None:
    """MariaDB's `migrated_url` is replayed from a template, not migrated: it must be the same
    database, down to its triggers, the rules of its foreign keys and the rows the migrations
    leave."""
    with fresh_database("mariadb") as url:
        db.run_migrations(url)
        expected = mariadb_contents(url)
    copied = mariadb_contents(migrated_url)
    assert copied.keys() == expected.keys()
    for part, rows in expected.items():
        assert copied[part] == rows, part
    # What the comparison must have seen, so that it proves something.
    assert len(expected["triggers"]) == 3
    assert len(expected["foreign keys"]) > 20
    assert expected["rows of alembic_version"] == [(db.head_revision(),)]
    assert expected["rows of dsr_closed_count"]


@pytest.mark.parametrize(
    "statement",
    ["CREATE VIEW shown AS SELECT 1 AS one", "CREATE PROCEDURE noop() BEGIN END"],
    ids=["view", "routine"],
)
def test_a_mariadb_template_with_what_a_copy_leaves_out_is_refused(statement: str) -> None:
    with fresh_database("mariadb") as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(statement))
        engine.dispose()
        with pytest.raises(ValueError, match="would leave out"):
            read_mariadb_template(url)
