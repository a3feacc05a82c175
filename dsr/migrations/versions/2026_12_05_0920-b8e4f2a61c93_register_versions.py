"""The versions of the register of processing activities: number, date, the map's digest, its
outline and the changes since the previous version (R33, issue 18).

Revision ID: b8e4f2a61c93
Revises: e9ad07eea658
Create Date: 2026-12-05 20:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "b8e4f2a61c93"
down_revision: str | Sequence[str] | None = "e9ad07eea658"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_register_version",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("produced_at", utc_datetime(), nullable=False),
        sa.Column("outline", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_index(
        op.f("ix_dsr_register_version_digest"), "dsr_register_version", ["digest"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dsr_register_version_digest"), table_name="dsr_register_version")
    op.drop_table("dsr_register_version")
