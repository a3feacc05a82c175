"""Add the status callbacks of API requests: their URLs and the queue of signed deliveries.

Revision ID: 06eb9745b957
Revises: 24566fef45e4
Create Date: 2026-11-25 11:21:58.989526
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "06eb9745b957"
down_revision: str | Sequence[str] | None = "24566fef45e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_status_callback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_status_callback_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_status_callback")),
    )
    op.create_index(
        op.f("ix_dsr_status_callback_request_id"), "dsr_status_callback", ["request_id"]
    )

    op.create_table(
        "dsr_callback_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", utc_datetime(), nullable=False),
        sa.Column("claimed_until", utc_datetime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("sent_at", utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["dsr_status_callback.id"],
            name=op.f("fk_dsr_callback_delivery_callback_id_dsr_status_callback"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_callback_delivery")),
    )
    op.create_index(
        op.f("ix_dsr_callback_delivery_callback_id"), "dsr_callback_delivery", ["callback_id"]
    )
    op.create_index(
        "ix_dsr_callback_delivery_due", "dsr_callback_delivery", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (MariaDB refuses to drop one a foreign key needs first).
    op.drop_table("dsr_callback_delivery")
    op.drop_table("dsr_status_callback")
