"""A request is answered when its answer is delivered: the status ready_to_send, the date the
answer was delivered, and the outbox's mark of the email that answers a request (R47).

Requests completed before this revision keep their status; their answer date is that of the
report's sending (access, portability) or of their completion (the other types, whose answer
email was queued with it). A report that was never sent leaves no answer date.

Revision ID: e5b7c3a90d14
Revises: e5b0c7d9a2f4
Create Date: 2026-12-03 17:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "e5b7c3a90d14"
down_revision: str | Sequence[str] | None = "e5b0c7d9a2f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = (
    "received",
    "verified",
    "in_review",
    "awaiting_requester",
    "approved",
    "processing",
    "completed",
    "denied",
    "failed",
    "expired",
    "cancelled",
)
NEW_STATUSES = (*OLD_STATUSES[:6], "ready_to_send", *OLD_STATUSES[6:])
STATUS_COLUMNS = (
    ("dsr_request", "status", False),
    ("dsr_request_event", "from_status", True),
    ("dsr_request_event", "to_status", True),
)


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def values(name: str, allowed: Sequence[str]) -> sa.Enum:
    """Text limited to `allowed` by a CHECK constraint named ck_<table>_<name>."""
    return sa.Enum(*allowed, name=name, native_enum=False, create_constraint=True, length=32)


def _statuses(allowed: Sequence[str]) -> None:
    """Let the status columns hold exactly `allowed` (their CHECK constraints are replaced)."""
    for table, column, nullable in STATUS_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                existing_type=sa.String(length=32),
                type_=values(column, allowed),
                existing_nullable=nullable,
            )


_ANSWERED_AT = """
UPDATE dsr_request SET answered_at = (
    SELECT MIN(e.at) FROM dsr_request_event e
    WHERE e.request_id = dsr_request.id AND e.action = :action
) WHERE status = 'completed' AND type {types}
"""


def upgrade() -> None:
    _statuses(NEW_STATUSES)
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(sa.Column("answered_at", utc_datetime(), nullable=True))
    with op.batch_alter_table("dsr_outbox_message") as batch:
        batch.add_column(sa.Column("answers_request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_dsr_outbox_message_answers_request_id_dsr_request"),
            "dsr_request",
            ["answers_request_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_dsr_outbox_message_answers_request_id"), ["answers_request_id"])
    reports = "IN ('access', 'portability')"
    op.execute(sa.text(_ANSWERED_AT.format(types=reports)).bindparams(action="report_sent"))
    op.execute(sa.text(_ANSWERED_AT.format(types="NOT " + reports)).bindparams(action="complete"))


def downgrade() -> None:
    waiting = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM dsr_request WHERE status = 'ready_to_send'")
    )
    if waiting.scalar_one():
        raise RuntimeError(
            "Some requests are ready to send: the previous revision has no such status. Send "
            "their answers (or wait for them to be delivered) before downgrading."
        )
    # MariaDB keeps an index while a foreign key needs it: drop the key first.
    with op.batch_alter_table("dsr_outbox_message") as batch:
        batch.drop_constraint(
            op.f("fk_dsr_outbox_message_answers_request_id_dsr_request"), type_="foreignkey"
        )
    with op.batch_alter_table("dsr_outbox_message") as batch:
        batch.drop_index(op.f("ix_dsr_outbox_message_answers_request_id"))
        batch.drop_column("answers_request_id")
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("answered_at")
    _statuses(OLD_STATUSES)
