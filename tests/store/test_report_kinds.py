"""The store takes the complete export as a kind of report on every engine, and refuses a kind
the desk does not know (the CHECK constraint the migration replaced)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from dsr import db
from dsr.delivery.models import ReportKind
from tests.factories import make_request

NOW = datetime(2026, 12, 4, 18, 10, tzinfo=UTC)
INSERT = text(
    "INSERT INTO dsr_report (request_id, kind, path, size, sha256, created_at, expires_at,"
    " downloads_left, encrypted) VALUES (:request, :kind, '/r', 1, 'x', :now, :now, 3, false)"
)


def test_a_report_may_be_the_complete_export_and_nothing_unknown(engine_url: str) -> None:
    db.run_migrations(engine_url)
    engine = db.make_engine(engine_url)
    with db.transaction(engine) as session:
        request = make_request(session)
    for kind in ReportKind:
        with engine.begin() as connection:
            connection.execute(INSERT, {"request": request.id, "kind": kind.value, "now": NOW})
    with pytest.raises((IntegrityError, OperationalError)), engine.begin() as connection:
        connection.execute(INSERT, {"request": request.id, "kind": "spreadsheet", "now": NOW})
    with engine.connect() as connection:
        kinds = connection.execute(text("SELECT kind FROM dsr_report ORDER BY id")).scalars()
        assert list(kinds) == ["pdf", "zip", "export"]
