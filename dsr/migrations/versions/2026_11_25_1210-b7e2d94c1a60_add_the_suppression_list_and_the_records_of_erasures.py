"""Add the suppression list, the per-system records and certificates of erasures, and the
approved values of rectifications.

Revision ID: b7e2d94c1a60
Revises: a61c0e7f3b52
Create Date: 2026-11-25 12:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "b7e2d94c1a60"
down_revision: str | Sequence[str] | None = "a61c0e7f3b52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as they were when this revision was written: later changes get their own revision.
REASONS = ("erasure", "objection")
RUN_STATUSES = ("done", "failed", "skipped")


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _request_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["request_id"], ["dsr_request.id"], name=op.f(f"fk_{table}_request_id_dsr_request")
    )


def upgrade() -> None:
    op.create_table(
        "dsr_suppressed_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(*REASONS, name="reason", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_suppressed_address")),
        sa.UniqueConstraint(
            "address_digest", name=op.f("uq_dsr_suppressed_address_address_digest")
        ),
    )
    op.create_table(
        "dsr_erasure_system_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *RUN_STATUSES, name="status", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("rows_deleted", sa.Integer(), nullable=False),
        sa.Column("rows_anonymized", sa.Integer(), nullable=False),
        sa.Column("rows_retained", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        _request_fk("dsr_erasure_system_run"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_erasure_system_run")),
        sa.UniqueConstraint(
            "request_id", "system", name=op.f("uq_dsr_erasure_system_run_request_id_system")
        ),
    )
    op.create_index(
        op.f("ix_dsr_erasure_system_run_request_id"), "dsr_erasure_system_run", ["request_id"]
    )
    op.create_table(
        "dsr_rectification_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("column", sa.String(length=200), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("approved_at", utc_datetime(), nullable=False),
        _request_fk("dsr_rectification_value"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_rectification_value")),
        sa.UniqueConstraint(
            "request_id",
            "system",
            "column",
            name=op.f("uq_dsr_rectification_value_request_id_system_column"),
        ),
    )
    op.create_index(
        op.f("ix_dsr_rectification_value_request_id"), "dsr_rectification_value", ["request_id"]
    )
    op.create_table(
        "dsr_erasure_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        _request_fk("dsr_erasure_certificate"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_erasure_certificate")),
        sa.UniqueConstraint("request_id", name=op.f("uq_dsr_erasure_certificate_request_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dsr_erasure_certificate_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("dsr_erasure_certificate")
    op.drop_table("dsr_rectification_value")
    op.drop_table("dsr_erasure_system_run")
    op.drop_table("dsr_suppressed_address")
