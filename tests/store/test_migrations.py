"""Migrations: they build the whole store on each engine and match the models exactly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from dsr import db, store_models
from dsr.audit.chain import GENESIS

TABLES = {
    "dsr_api_token",
    "dsr_audit_head",
    "dsr_outbox_message",
    "dsr_reference_counter",
    "dsr_request",
    "dsr_request_event",
    "dsr_task",
}


def test_an_empty_database_is_behind(engine_url: str) -> None:
    engine = db.make_engine(engine_url)
    assert db.current_revision(engine) is None
    assert not db.current_revision_is_head(engine)


def test_upgrade_builds_the_store_at_head(engine_url: str) -> None:
    assert db.run_migrations(engine_url) == db.head_revision()

    engine = db.make_engine(engine_url)
    assert db.current_revision_is_head(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        head = connection.execute(text("SELECT id, last_sequence, last_hash FROM dsr_audit_head"))
        assert head.all() == [(1, 0, GENESIS)]


def test_the_migrations_create_exactly_what_the_models_declare(engine_url: str) -> None:
    db.run_migrations(engine_url)
    store_models.import_models()
    engine = db.make_engine(engine_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_downgrade_to_nothing_and_up_again(engine_url: str) -> None:
    db.run_migrations(engine_url)
    engine = db.make_engine(engine_url)
    with engine.begin() as connection:
        command.downgrade(db.alembic_config(connection), "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert db.run_migrations(engine_url) == db.head_revision()
