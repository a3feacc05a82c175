"""Migrations: they build the whole store on each engine and match the models exactly."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, select

from dsr import db, store_models
from dsr.audit.chain import GENESIS
from dsr.requests.models import DataRequest

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


def test_requests_already_received_get_the_default_zone_and_a_deadline_on_its_calendar(
    engine_url: str,
) -> None:
    db.run_migrations(engine_url, "d4a9e2b61f37")
    engine = db.make_engine(engine_url)
    # Received on 31 January at 00:30 in Paris (23:30 UTC the day before), paused 3 days and 20
    # hours: the UTC count had it due on 4 March 2026 at 19:30 UTC.
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO dsr_request (type, requester_email, language, reference, status,"
                " normalized_email, received_at, due_at, paused_total_microseconds,"
                " extension_months, extension_reason, version_id, created_via) VALUES"
                " ('access', 'a@example.org', 'fr', 'DSR-2026-000001', 'in_review',"
                " 'a@example.org', :received, :due, :paused, 0, NULL, 1, 'web')"
            ),
            {
                "received": datetime(2026, 1, 30, 23, 30),
                "due": datetime(2026, 3, 4, 19, 30),
                "paused": (3 * 24 + 20) * 3600 * 10**6,
            },
        )
    db.run_migrations(engine_url)
    store_models.import_models()
    with db.open_session(engine) as session:
        request = session.exec(select(DataRequest)).one()
    assert request.time_zone == "Europe/Paris"
    # 28 February, plus the 3 whole days of the pause: the end of 3 March in Paris.
    assert request.due_at == datetime(2026, 3, 3, 22, 59, 59, 999999, tzinfo=UTC)
    assert request.due_at == request.state.due_at
