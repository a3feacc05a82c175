"""The queue's view "Mine" is counted on every page: an index on (assignee_id, status) counts a
member of staff's open requests without reading the table.

Revision ID: 8a0bdbde06ab
Revises: b8e4f2a61c93
Create Date: 2026-12-05 21:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "8a0bdbde06ab"
down_revision: str | Sequence[str] | None = "b8e4f2a61c93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_dsr_request_assignee_status", "dsr_request", ["assignee_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_dsr_request_assignee_status", table_name="dsr_request")
