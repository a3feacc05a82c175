"""Deliver the complete export with the access report: a report's kind may be `export`, the zip of
every row of every category (JSON and CSV) that the PDF, printing a readable number of rows per
category, refers to.

Revision ID: d0a3fdbef2f8
Revises: e5b7c3a90d14
Create Date: 2026-12-04 18:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d0a3fdbef2f8"
down_revision: str | Sequence[str] | None = "e5b7c3a90d14"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("pdf", "zip")
NEW_KINDS = (*OLD_KINDS, "export")


def _kinds(allowed: Sequence[str]) -> None:
    """Let dsr_report.kind hold exactly `allowed` (its CHECK constraint is replaced)."""
    with op.batch_alter_table("dsr_report") as batch:
        batch.drop_constraint(op.f("ck_dsr_report_kind"), type_="check")
    with op.batch_alter_table("dsr_report") as batch:
        batch.alter_column(
            "kind",
            existing_type=sa.String(length=32),
            type_=sa.Enum(
                *allowed, name="kind", native_enum=False, create_constraint=True, length=32
            ),
            existing_nullable=False,
        )


def upgrade() -> None:
    _kinds(NEW_KINDS)


def downgrade() -> None:
    # The previous revision has no such kind: the exports go, their PDFs and zips stay.
    op.execute(sa.text("DELETE FROM dsr_report WHERE kind = 'export'"))
    _kinds(OLD_KINDS)
