"""Two types of request: the objection to processing on legitimate interests (Art. 21(1)) and
post-mortem directives (loi Informatique et Libertés, art. 85), whose designated person (name
and email) is kept with the request until it is minimised.

Revision ID: cba7c1c3b94c
Revises: c4d81a7e5f20
Create Date: 2026-12-06 23:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cba7c1c3b94c"
down_revision: str | Sequence[str] | None = "c4d81a7e5f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = (
    "access",
    "portability",
    "erasure",
    "rectification",
    "restriction",
    "objection",
    "deactivation",
)
NEW_TYPES = (*OLD_TYPES, "objection_legitimate_interest", "post_mortem")


def _types(allowed: Sequence[str]) -> None:
    """Let dsr_request.type hold exactly `allowed` (its CHECK constraint is replaced)."""
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_constraint(op.f("ck_dsr_request_type"), type_="check")
    with op.batch_alter_table("dsr_request") as batch:
        batch.alter_column(
            "type",
            existing_type=sa.String(length=32),
            type_=sa.Enum(
                *allowed, name="type", native_enum=False, create_constraint=True, length=32
            ),
            existing_nullable=False,
        )


def upgrade() -> None:
    _types(NEW_TYPES)
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(sa.Column("designee_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("designee_email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    new = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM dsr_request WHERE type IN (:a, :b)").bindparams(
            a=NEW_TYPES[-2], b=NEW_TYPES[-1]
        )
    )
    if new.scalar_one():
        raise RuntimeError(
            "Some requests are objections on legitimate interests or post-mortem directives: the "
            "previous revision has no such types. Remove them before downgrading."
        )
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("designee_email")
        batch.drop_column("designee_name")
    _types(OLD_TYPES)
