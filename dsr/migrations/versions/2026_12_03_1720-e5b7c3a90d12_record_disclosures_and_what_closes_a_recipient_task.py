"""Record the disclosures to recipients, and what a recipient's task holds and needs to close.

Revision ID: e5b7c3a90d12
Revises: 73ba2a4b2dfc
Create Date: 2026-12-03 17:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "e5b7c3a90d12"
down_revision: str | Sequence[str] | None = "73ba2a4b2dfc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_disclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_digest", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("sent_at", utc_datetime(), nullable=False),
        sa.Column("recorded_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_disclosure")),
        sa.UniqueConstraint(
            "subject_digest",
            "recipient",
            "category",
            "sent_at",
            name=op.f("uq_dsr_disclosure_subject_digest_recipient_category_sent_at"),
        ),
    )
    op.create_index(op.f("ix_dsr_disclosure_subject_digest"), "dsr_disclosure", ["subject_digest"])
    with op.batch_alter_table("dsr_task") as batch:
        batch.add_column(sa.Column("subject_identity", sa.Text(), nullable=True))
        batch.add_column(sa.Column("told_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("told_via", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsr_task") as batch:
        batch.drop_column("told_via")
        batch.drop_column("told_on")
        batch.drop_column("subject_identity")
    op.drop_index(op.f("ix_dsr_disclosure_subject_digest"), table_name="dsr_disclosure")
    op.drop_table("dsr_disclosure")
