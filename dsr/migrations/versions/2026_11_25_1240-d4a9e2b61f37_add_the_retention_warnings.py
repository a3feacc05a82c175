"""Add the warnings sent before inactive accounts expire.

Revision ID: d4a9e2b61f37
Revises: c3f8a1d27e90
Create Date: 2026-11-25 12:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "d4a9e2b61f37"
down_revision: str | Sequence[str] | None = "c3f8a1d27e90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_retention_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=False),
        sa.Column("warned_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_retention_warning")),
        sa.UniqueConstraint(
            "system",
            "table_name",
            "row_key",
            name=op.f("uq_dsr_retention_warning_system_table_name_row_key"),
        ),
    )


def downgrade() -> None:
    op.drop_table("dsr_retention_warning")
