"""Add the legal holds placed on requests (Art. 17(3)(e)).

Revision ID: e5b0c7d9a2f4
Revises: e5b7c3a90d12
Create Date: 2026-12-03 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "e5b0c7d9a2f4"
down_revision: str | Sequence[str] | None = "e5b7c3a90d12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("placed_at", utc_datetime(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("kept_rows", sa.Text(), nullable=False),
        sa.Column("lifted_at", utc_datetime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_legal_hold_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_legal_hold")),
    )
    op.create_index(
        op.f("ix_dsr_legal_hold_request_id"), "dsr_legal_hold", ["request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("dsr_legal_hold")  # with its index (MariaDB refuses to drop an FK's index)
