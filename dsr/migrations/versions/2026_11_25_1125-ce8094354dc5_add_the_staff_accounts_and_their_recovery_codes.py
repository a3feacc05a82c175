"""Add the staff accounts and their single-use recovery codes.

Revision ID: ce8094354dc5
Revises: 06eb9745b957
Create Date: 2026-11-25 11:25:59.903564
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "ce8094354dc5"
down_revision: str | Sequence[str] | None = "06eb9745b957"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as they were when this revision was written: later changes get their own revision.
ROLES = ("admin", "dpo", "auditor")


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(*ROLES, name="role", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("totp_secret", sa.String(length=255), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("failed_login_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", utc_datetime(), nullable=True),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column("last_login_at", utc_datetime(), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("password_changed_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_staff_user")),
        sa.UniqueConstraint("email", name=op.f("uq_dsr_staff_user_email")),
    )
    op.create_table(
        "dsr_staff_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["dsr_staff_user.id"],
            name=op.f("fk_dsr_staff_recovery_code_staff_id_dsr_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_staff_recovery_code")),
    )
    op.create_index(
        op.f("ix_dsr_staff_recovery_code_staff_id"), "dsr_staff_recovery_code", ["staff_id"]
    )


def downgrade() -> None:
    op.drop_table("dsr_staff_recovery_code")
    op.drop_table("dsr_staff_user")
