"""Add the scheduler's lease, the record of job runs, and APScheduler's job store.

Revision ID: c3f8a1d27e90
Revises: b7e2d94c1a60
Create Date: 2026-11-25 12:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "c3f8a1d27e90"
down_revision: str | Sequence[str] | None = "b7e2d94c1a60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_scheduler_job",
        sa.Column("id", sa.Unicode(191), nullable=False),
        sa.Column(
            "next_run_time",
            sa.Float(25).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb"),
            nullable=True,
        ),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_scheduler_job")),
    )
    op.create_index(
        op.f("ix_dsr_scheduler_job_next_run_time"), "dsr_scheduler_job", ["next_run_time"]
    )
    op.create_table(
        "dsr_scheduler_lease",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dsr_scheduler_lease")),
    )
    op.create_table(
        "dsr_job_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("started_at", utc_datetime(), nullable=False),
        sa.Column("finished_at", utc_datetime(), nullable=True),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_job_run")),
    )
    op.create_index("ix_dsr_job_run_job_started", "dsr_job_run", ["job", "started_at"])
    op.create_index(op.f("ix_dsr_job_run_started_at"), "dsr_job_run", ["started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dsr_job_run_started_at"), table_name="dsr_job_run")
    op.drop_index("ix_dsr_job_run_job_started", table_name="dsr_job_run")
    op.drop_table("dsr_job_run")
    op.drop_table("dsr_scheduler_lease")
    op.drop_index(op.f("ix_dsr_scheduler_job_next_run_time"), table_name="dsr_scheduler_job")
    op.drop_table("dsr_scheduler_job")
