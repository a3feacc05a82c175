"""Every retention sweep is recorded with its dry-run report, why it waits for a person's
approval, who approved it and when, and what it changed once run.

Revision ID: e9ad07eea658
Revises: b7c41e2d9a53
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "e9ad07eea658"
down_revision: str | Sequence[str] | None = "b7c41e2d9a53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = ("nightly", "console")
STATUSES = ("waiting", "superseded", "approved", "running", "done", "failed")


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_retention_sweep",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("planned_at", utc_datetime(), nullable=False),
        sa.Column(
            "trigger",
            sa.Enum(
                *TRIGGERS, name="trigger", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("map_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="status", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", utc_datetime(), nullable=True),
        sa.Column("started_at", utc_datetime(), nullable=True),
        sa.Column("finished_at", utc_datetime(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_dsr_retention_sweep_planned_at"), "dsr_retention_sweep", ["planned_at"]
    )
    op.create_index(op.f("ix_dsr_retention_sweep_status"), "dsr_retention_sweep", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dsr_retention_sweep_status"), table_name="dsr_retention_sweep")
    op.drop_index(op.f("ix_dsr_retention_sweep_planned_at"), table_name="dsr_retention_sweep")
    op.drop_table("dsr_retention_sweep")
