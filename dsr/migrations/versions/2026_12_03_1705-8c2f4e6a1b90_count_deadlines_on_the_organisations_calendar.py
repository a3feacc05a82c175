"""Keep with each request the zone its deadline is counted in, and count the deadlines given so
far on that calendar.

Every map written before `organisation.timezone` existed had the organisation in its default
zone, Europe/Paris: the requests already received get it, and their due date becomes the end of
the day one month after the day of receipt on that calendar (plus extension months and whole
days of pauses), as `dsr.requests.workflow.deadline_for` now counts it. The rule is copied here
so that this migration keeps doing what it did when the rule changes.

Revision ID: 8c2f4e6a1b90
Revises: d4a9e2b61f37
Create Date: 2026-12-03 17:05:00.000000
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "8c2f4e6a1b90"
down_revision: str | Sequence[str] | None = "d4a9e2b61f37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EARLIER_MAPS_ZONE = "Europe/Paris"


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _due_at(received_at: datetime, paused: timedelta, months: int, zone: ZoneInfo) -> datetime:
    """The last instant, in UTC, of the day `months` calendar months (and the whole days of
    `paused`) after the day of receipt in `zone`."""
    aware = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    day = aware.astimezone(zone).date()
    year, month_index = divmod(day.month - 1 + months, 12)
    year += day.year
    due = date(year, month_index + 1, min(day.day, monthrange(year, month_index + 1)[1]))
    due += timedelta(days=paused.days)
    next_midnight = datetime.combine(due + timedelta(days=1), time(), tzinfo=zone)
    return next_midnight.astimezone(UTC) - timedelta(microseconds=1)


def upgrade() -> None:
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    requests = sa.table(
        "dsr_request",
        sa.column("id", sa.Integer()),
        sa.column("received_at", utc_datetime()),
        sa.column("due_at", utc_datetime()),
        sa.column("paused_total_microseconds", sa.BigInteger()),
        sa.column("extension_months", sa.Integer()),
        sa.column("time_zone", sa.String(length=64)),
    )
    connection = op.get_bind()
    keeps_offset = connection.dialect.name == "postgresql"
    zone = ZoneInfo(EARLIER_MAPS_ZONE)
    rows = connection.execute(
        sa.select(
            requests.c.id,
            requests.c.received_at,
            requests.c.paused_total_microseconds,
            requests.c.extension_months,
        )
    ).all()
    counted = []
    for row in rows:
        due = _due_at(
            row.received_at,
            timedelta(microseconds=row.paused_total_microseconds),
            1 + row.extension_months,
            zone,
        )
        counted.append({"row_id": row.id, "due": due if keeps_offset else due.replace(tzinfo=None)})
    if counted:
        connection.execute(
            sa.update(requests)
            .where(requests.c.id == sa.bindparam("row_id"))
            .values(time_zone=EARLIER_MAPS_ZONE, due_at=sa.bindparam("due")),
            counted,
        )
    with op.batch_alter_table("dsr_request") as batch:
        batch.alter_column("time_zone", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    # The due dates stay as counted on the organisation's calendar: earlier ones were wrong.
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("time_zone")
