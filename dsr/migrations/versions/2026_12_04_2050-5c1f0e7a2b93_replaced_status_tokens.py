"""Replaced status links: the digest of each status-page token a newer one replaced, so that an
old link leads to a page saying a new one was sent rather than to "not found".

Revision ID: 5c1f0e7a2b93
Revises: 7d3e9a41c5b2
Create Date: 2026-12-04 20:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "5c1f0e7a2b93"
down_revision: str | Sequence[str] | None = "7d3e9a41c5b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_replaced_status_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("replaced_at", utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["dsr_request.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_dsr_replaced_status_token_request_id"),
        "dsr_replaced_status_token",
        ["request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("dsr_replaced_status_token")  # its index with it (MariaDB keeps it for the FK)
