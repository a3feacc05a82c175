"""Add the answer templates admins prepare for staff's questions to requesters and refusals.

Revision ID: 3f6a9c2e1b47
Revises: 8a0bdbde06ab
Create Date: 2026-12-05 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "3f6a9c2e1b47"
down_revision: str | Sequence[str] | None = "8a0bdbde06ab"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("question", "refusal")
LANGUAGES = ("fr", "en")


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_answer_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("request_type", sa.String(length=32), nullable=False),
        sa.Column(
            "language",
            sa.Enum(
                *LANGUAGES, name="language", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_answer_template")),
        sa.UniqueConstraint(
            "kind",
            "request_type",
            "language",
            "title",
            name=op.f("uq_dsr_answer_template_kind_request_type_language_title"),
        ),
    )


def downgrade() -> None:
    op.drop_table("dsr_answer_template")
