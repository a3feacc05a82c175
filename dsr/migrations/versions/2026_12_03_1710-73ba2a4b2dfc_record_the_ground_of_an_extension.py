"""Record the ground of an extension: one of the two Art. 12(3) allows (R4).

Requests extended before keep no ground (NULL): the desk did not ask for one then.

Revision ID: 73ba2a4b2dfc
Revises: 8c2f4e6a1b90
Create Date: 2026-12-03 17:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "73ba2a4b2dfc"
down_revision: str | None = "8c2f4e6a1b90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUNDS = ("complexity", "number_of_requests")


def upgrade() -> None:
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(sa.Column("extension_ground", sa.String(length=32), nullable=True))
        batch.create_check_constraint(
            op.f("ck_dsr_request_extension_ground"),
            sa.column("extension_ground").in_(GROUNDS),
        )


def downgrade() -> None:
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_constraint(op.f("ck_dsr_request_extension_ground"), type_="check")
        batch.drop_column("extension_ground")
