"""Keep documents with requests (a letter received, a mandate, an identity document), sealed.

Revision ID: c4d81a7e5f20
Revises: 3f6a9c2e1b47
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "c4d81a7e5f20"
down_revision: str | Sequence[str] | None = "3f6a9c2e1b47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("received_message", "mandate", "parental_authority", "identity_document", "other")
CAUSES = ("checked", "staff", "minimised")


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_request_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed_name", sa.Text(), nullable=True),
        sa.Column(
            "sealed_content",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
            nullable=True,
        ),
        sa.Column("added_at", utc_datetime(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("removed_at", utc_datetime(), nullable=True),
        sa.Column(
            "removal_cause",
            sa.Enum(
                *CAUSES, name="removal_cause", native_enum=False, create_constraint=True, length=32
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_request_document_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_request_document")),
    )
    op.create_index(
        op.f("ix_dsr_request_document_request_id"),
        "dsr_request_document",
        ["request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("dsr_request_document")
