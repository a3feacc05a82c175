"""Runs on workers: the lease of the worker that holds a request's run (so that another takes over
when it dies) and each system's progress for the request's page.

Revision ID: 7d3e9a41c5b2
Revises: d0a3fdbef2f8
Create Date: 2026-12-04 18:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "7d3e9a41c5b2"
down_revision: str | Sequence[str] | None = "d0a3fdbef2f8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("waiting", "running", "done", "failed")


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_request_run",
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("claim", sa.String(length=64), nullable=True),
        sa.Column("lease_until", utc_datetime(), nullable=True),
        sa.Column("started_at", utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["dsr_request.id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index(
        op.f("ix_dsr_request_run_lease_until"), "dsr_request_run", ["lease_until"], unique=False
    )
    op.create_table(
        "dsr_run_progress",
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="state", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("started_at", utc_datetime(), nullable=True),
        sa.Column("finished_at", utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["dsr_request.id"]),
        sa.PrimaryKeyConstraint("request_id", "system"),
    )


def downgrade() -> None:
    op.drop_table("dsr_run_progress")
    op.drop_index(op.f("ix_dsr_request_run_lease_until"), table_name="dsr_request_run")
    op.drop_table("dsr_request_run")
