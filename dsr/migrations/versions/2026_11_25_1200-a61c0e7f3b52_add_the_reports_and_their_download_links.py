"""Add the reports of access and portability requests and their download links.

Revision ID: a61c0e7f3b52
Revises: 7d3e9a41c2b8
Create Date: 2026-11-25 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "a61c0e7f3b52"
down_revision: str | Sequence[str] | None = "7d3e9a41c2b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as they were when this revision was written: later changes get their own revision.
KINDS = ("pdf", "zip")
METHODS = ("link", "encrypted")


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("expires_at", utc_datetime(), nullable=False),
        sa.Column("downloads_left", sa.Integer(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("delivered_at", utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsr_request.id"], name=op.f("fk_dsr_report_request_id_dsr_request")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_report")),
    )
    op.create_index(op.f("ix_dsr_report_request_id"), "dsr_report", ["request_id"])
    op.create_index(op.f("ix_dsr_report_expires_at"), "dsr_report", ["expires_at"])
    op.create_table(
        "dsr_download_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "method",
            sa.Enum(*METHODS, name="method", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("expires_at", utc_datetime(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", utc_datetime(), nullable=True),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("wrong_codes", sa.Integer(), nullable=False),
        sa.Column("locked_until", utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_download_link_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_download_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dsr_download_link_token_hash")),
    )
    op.create_index(op.f("ix_dsr_download_link_request_id"), "dsr_download_link", ["request_id"])


def downgrade() -> None:
    op.drop_table("dsr_download_link")
    op.drop_table("dsr_report")
