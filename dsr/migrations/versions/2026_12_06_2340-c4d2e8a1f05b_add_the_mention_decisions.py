"""Add staff's decisions on the possible mentions of a request's subject in other people's text.

Revision ID: c4d2e8a1f05b
Revises: e5a7c3d91b62
Create Date: 2026-12-06 14:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "c4d2e8a1f05b"
down_revision: str | Sequence[str] | None = "e5a7c3d91b62"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_mention_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("column_name", sa.String(length=100), nullable=False),
        sa.Column("row_key", sa.String(length=500), nullable=False),
        sa.Column("is_subject", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_mention_decision_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_mention_decision")),
        sa.UniqueConstraint(
            "request_id",
            "system",
            "table_name",
            "column_name",
            "row_key",
            name=op.f("uq_dsr_mention_decision_place"),
        ),
    )
    op.create_index(
        op.f("ix_dsr_mention_decision_request_id"),
        "dsr_mention_decision",
        ["request_id"],
        unique=False,
    )


def downgrade() -> None:
    # The table's index goes with it (MariaDB refuses to drop the index its foreign key uses).
    op.drop_table("dsr_mention_decision")
