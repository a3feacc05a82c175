"""Keep how many requests are in each terminal status (`dsr.requests.closed_counts`): the
queue page counted every request ever closed on every page (issue 17).

`dsr_closed_count` holds a total per terminal status, counted here from the requests already
stored; triggers on `dsr_request` write a delta in `dsr_closed_count_delta` whenever a request is
inserted in, deleted from, or moved into or out of one of those statuses; the housekeeping job
folds the deltas into the totals. The statuses are those of `dsr_closed_count`'s rows, so the
triggers name none.

SQLite drops a table's triggers when Alembic's batch mode rebuilds it: a later migration that
rebuilds `dsr_request` must create them again (`create_triggers`); tests/requests/
test_closed_counts.py fails at head on SQLite if it does not.

Revision ID: 577c5867e5e5
Revises: b7e2f4a9c351
Create Date: 2026-12-07 00:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "577c5867e5e5"
down_revision: str | Sequence[str] | None = "b7e2f4a9c351"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERMINAL = ("completed", "denied", "expired", "cancelled")
"""`dsr.requests.workflow.TERMINAL` as of this revision."""

_INSERTED = (
    "INSERT INTO dsr_closed_count_delta (status, delta)"
    " SELECT status, 1 FROM dsr_closed_count WHERE status = NEW.status"
)
_DELETED = (
    "INSERT INTO dsr_closed_count_delta (status, delta)"
    " SELECT status, -1 FROM dsr_closed_count WHERE status = OLD.status"
)
_MOVED = (
    "INSERT INTO dsr_closed_count_delta (status, delta)"
    " SELECT status, CASE WHEN status = NEW.status THEN 1 ELSE -1 END FROM dsr_closed_count"
    " WHERE status IN (OLD.status, NEW.status) AND OLD.status <> NEW.status"
)


def create_triggers(dialect: str) -> None:
    """Create the triggers that write the deltas, on `dialect`'s terms."""
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION dsr_closed_count_delta() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            f" IF TG_OP = 'INSERT' THEN {_INSERTED};"
            f" ELSIF TG_OP = 'DELETE' THEN {_DELETED};"
            f" ELSE {_MOVED};"
            " END IF;"
            " RETURN NULL;"
            " END $$"
        )
        op.execute(
            "CREATE TRIGGER dsr_request_closed_count AFTER INSERT OR DELETE ON dsr_request"
            " FOR EACH ROW EXECUTE FUNCTION dsr_closed_count_delta()"
        )
        op.execute(
            "CREATE TRIGGER dsr_request_closed_count_moved AFTER UPDATE OF status ON dsr_request"
            " FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)"
            " EXECUTE FUNCTION dsr_closed_count_delta()"
        )
        return
    for name, event, body in (
        ("dsr_request_closed_count_inserted", "INSERT", _INSERTED),
        ("dsr_request_closed_count_deleted", "DELETE", _DELETED),
        ("dsr_request_closed_count_moved", "UPDATE", _MOVED),
    ):
        if dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON dsr_request FOR EACH ROW BEGIN {body}; END"
            )
        else:  # MariaDB, MySQL: a one-statement body
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON dsr_request FOR EACH ROW {body}")


def drop_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS dsr_request_closed_count_moved ON dsr_request")
        op.execute("DROP TRIGGER IF EXISTS dsr_request_closed_count ON dsr_request")
        op.execute("DROP FUNCTION IF EXISTS dsr_closed_count_delta()")
        return
    for name in (
        "dsr_request_closed_count_inserted",
        "dsr_request_closed_count_deleted",
        "dsr_request_closed_count_moved",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    totals = op.create_table(
        "dsr_closed_count",
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_dsr_closed_count")),
    )
    op.create_table(
        "dsr_closed_count_delta",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_closed_count_delta")),
    )
    op.create_index(op.f("ix_dsr_closed_count_delta_status"), "dsr_closed_count_delta", ["status"])
    connection = op.get_bind()
    counted: dict[str, int] = dict(
        connection.execute(
            sa.text(
                "SELECT status, count(*) FROM dsr_request WHERE status IN :terminal GROUP BY status"
            ).bindparams(sa.bindparam("terminal", expanding=True)),
            {"terminal": list(TERMINAL)},
        ).all()
    )
    op.bulk_insert(
        totals, [{"status": status, "total": counted.get(status, 0)} for status in TERMINAL]
    )
    create_triggers(connection.dialect.name)


def downgrade() -> None:
    drop_triggers(op.get_bind().dialect.name)
    op.drop_index(op.f("ix_dsr_closed_count_delta_status"), table_name="dsr_closed_count_delta")
    op.drop_table("dsr_closed_count_delta")
    op.drop_table("dsr_closed_count")
