"""Keep the answer of a request answered by post (R44, R47) as the desk would have emailed it
(`answer_letter`: its subject, a blank line, its text), so that staff can print it as a letter.

Revision ID: b7e2f4a9c351
Revises: a9d3e61f4c07
Create Date: 2026-12-06 23:57:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e2f4a9c351"
down_revision: str | Sequence[str] | None = "a9d3e61f4c07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(sa.Column("answer_letter", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("answer_letter")
