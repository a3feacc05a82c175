"""Assign requests to staff, and index the queue's filters by due date.

Revision ID: 5b1f0c7d9e21
Revises: ce8094354dc5
Create Date: 2026-11-25 11:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1f0c7d9e21"
down_revision: str | Sequence[str] | None = "ce8094354dc5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_dsr_request_assignee_id_dsr_staff_user"),
            "dsr_staff_user",
            ["assignee_id"],
            ["id"],
        )
    op.create_index("ix_dsr_request_status_due", "dsr_request", ["status", "due_at"])
    op.create_index("ix_dsr_request_type_due", "dsr_request", ["type", "due_at"])
    op.create_index("ix_dsr_request_assignee_due", "dsr_request", ["assignee_id", "due_at"])


def downgrade() -> None:
    # MariaDB keeps an index while a foreign key needs it: drop the key first.
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_constraint(op.f("fk_dsr_request_assignee_id_dsr_staff_user"), type_="foreignkey")
    op.drop_index("ix_dsr_request_assignee_due", table_name="dsr_request")
    op.drop_index("ix_dsr_request_type_due", table_name="dsr_request")
    op.drop_index("ix_dsr_request_status_due", table_name="dsr_request")
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("assignee_id")
