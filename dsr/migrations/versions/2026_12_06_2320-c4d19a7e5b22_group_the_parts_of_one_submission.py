"""One submission may ask for several things (access and erasure...): each is a request of its own,
and `group_id` (the first part's id, on every part) ties the parts together.

Revision ID: c4d19a7e5b22
Revises: cba7c1c3b94c
Create Date: 2026-12-06 01:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4d19a7e5b22"
down_revision: str | Sequence[str] | None = "cba7c1c3b94c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_dsr_request_group_id_dsr_request"), "dsr_request", ["group_id"], ["id"]
        )
    op.create_index(op.f("ix_dsr_request_group_id"), "dsr_request", ["group_id"], unique=False)


def downgrade() -> None:
    # MariaDB keeps an index while a foreign key needs it: drop the key first.
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_constraint(op.f("fk_dsr_request_group_id_dsr_request"), type_="foreignkey")
    op.drop_index(op.f("ix_dsr_request_group_id"), table_name="dsr_request")
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("group_id")
