"""Assign manual tasks to staff.

Revision ID: 7d3e9a41c2b8
Revises: 5b1f0c7d9e21
Create Date: 2026-11-25 11:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d3e9a41c2b8"
down_revision: str | Sequence[str] | None = "5b1f0c7d9e21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dsr_task") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_dsr_task_assignee_id_dsr_staff_user"),
            "dsr_staff_user",
            ["assignee_id"],
            ["id"],
        )
        batch.create_index(op.f("ix_dsr_task_assignee_id"), ["assignee_id"])


def downgrade() -> None:
    with op.batch_alter_table("dsr_task") as batch:
        batch.drop_constraint(op.f("fk_dsr_task_assignee_id_dsr_staff_user"), type_="foreignkey")
        batch.drop_index(op.f("ix_dsr_task_assignee_id"))
        batch.drop_column("assignee_id")
